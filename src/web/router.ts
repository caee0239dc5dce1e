import { type MouseEvent, useSyncExternalStore } from "react";

/** The app's pages; the server answers any of these paths with index.html. */
export const routes = {
  backups: "/settings/maintenance/backups",
  keys: "/settings/api-keys",
} as const;

export type Route = (typeof routes)[keyof typeof routes];

const CHANGE = "cc:navigate";

function subscribe(onChange: () => void) {
  window.addEventListener("popstate", onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

/** The current page; anything unknown (including `/`) is the Backups page. */
export function useRoute(): Route {
  const path = useSyncExternalStore(subscribe, () => window.location.pathname);
  return Object.values(routes).find((route) => route === path) ?? routes.backups;
}

export function navigate(to: Route) {
  if (window.location.pathname === to) return;
  window.history.pushState(null, "", to);
  window.dispatchEvent(new Event(CHANGE));
}

/** Client-side navigation for plain left clicks; modified clicks keep the browser's behaviour (new tab...). */
export function followLink(event: MouseEvent<HTMLAnchorElement>, to: Route) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(to);
}
