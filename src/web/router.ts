import { type MouseEvent, useSyncExternalStore } from "react";

/**
 * The app's pages; the server answers any of these paths with index.html. The database being viewed lives in the
 * path (`/db/<name>/…`), so viewing one never changes the server's current database, and a link shows the same page.
 */
export type Route = { page: "backups"; database: string | null } | { page: "keys" } | { page: "account" };

const KEYS_PATH = "/settings/api-keys";
const ACCOUNT_PATH = "/settings/account";
const BACKUPS_PATH = /^\/db\/([^/]+)\/settings\/maintenance\/backups\/?$/;

export function pathOf(route: Route): string {
  if (route.page === "keys") return KEYS_PATH;
  if (route.page === "account") return ACCOUNT_PATH;
  if (route.database === null) return "/";
  return `/db/${encodeURIComponent(route.database)}/settings/maintenance/backups`;
}

/** Anything unknown (`/`, the old `/settings/maintenance/backups`) is the Backups page of the current database. */
export function parseRoute(path: string): Route {
  if (path === KEYS_PATH) return { page: "keys" };
  if (path === ACCOUNT_PATH) return { page: "account" };
  const match = BACKUPS_PATH.exec(path);
  return { page: "backups", database: match?.[1] ? decodeURIComponent(match[1]) : null };
}

const CHANGE = "cc:navigate";

function subscribe(onChange: () => void) {
  window.addEventListener("popstate", onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

/** The current page's path; parse it with `parseRoute` (a string keeps useSyncExternalStore's snapshot stable). */
export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

/** `replace` rewrites the address without a history entry (a page that only filled in its database). */
export function navigate(to: Route, { replace = false } = {}) {
  const path = pathOf(to);
  if (window.location.pathname === path) return;
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  window.dispatchEvent(new Event(CHANGE));
}

/** Client-side navigation for plain left clicks; modified clicks keep the browser's behaviour (new tab...). */
export function followLink(event: MouseEvent<HTMLAnchorElement>, to: Route) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(to);
}
