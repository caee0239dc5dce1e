import { useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useSyncExternalStore } from "react";
import { isNetworkError } from "../api.js";

/**
 * Whether the server could not be reached, known once for the whole page: the last answer was a network failure
 * and nothing has succeeded since. One banner says so, instead of one alert per panel that tried.
 */
let unreachable = false;
const listeners = new Set<() => void>();

function set(value: boolean) {
  if (value === unreachable) return;
  unreachable = value;
  for (const listener of listeners) listener();
}

/** Fed by the query client's caches: every error and every success of any query or mutation. */
export const connection = {
  failed: (error: unknown) => {
    if (isNetworkError(error)) set(true);
  },
  succeeded: () => set(false),
};

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** True inside the part of the page the banner covers: alerts there leave "cannot reach the server" to it. */
const BannerShown = createContext(false);

export const useBannerShown = () => useContext(BannerShown);

/** The one alert for an unreachable server, with a way to try again; the page below keeps what it showed. */
export function ConnectionBanner({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const down = useSyncExternalStore(subscribe, () => unreachable);
  return (
    <BannerShown.Provider value={true}>
      {down && (
        <p role="alert" className="alert alert-error connection-banner">
          Cannot reach the server. Check that it is running; this page tries again when you act, or{" "}
          <button type="button" onClick={() => client.refetchQueries({ type: "active" })}>
            try again now
          </button>
          .
        </p>
      )}
      {children}
    </BannerShown.Provider>
  );
}

/** Inside a modal dialog the page behind is inert: its alerts speak for themselves again. */
export function OwnAlerts({ children }: { children: ReactNode }) {
  return <BannerShown.Provider value={false}>{children}</BannerShown.Provider>;
}
