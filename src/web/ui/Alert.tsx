import type { ReactNode } from "react";
import { errorMessage, isNetworkError } from "../api.js";
import { useBannerShown } from "./connection.js";

/**
 * A server or network error as a sentence; announced to screen readers when it appears. Under the connection
 * banner an unreachable server is left to it, so the page shows one alert for it, not one per panel.
 */
export function ErrorAlert({ error }: { error: unknown }) {
  const banner = useBannerShown();
  if (!error || (banner && isNetworkError(error))) return null;
  return (
    <p role="alert" className="alert alert-error">
      {errorMessage(error)}
    </p>
  );
}

/** A quiet confirmation of what just happened. */
export function Notice({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <p role="status" className="alert alert-ok">
      {children}
    </p>
  );
}

export function Spinner() {
  return <span className="spinner" aria-hidden="true" />;
}
