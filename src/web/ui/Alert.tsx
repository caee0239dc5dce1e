import type { ReactNode } from "react";
import { errorMessage } from "../api.js";

/** A server or network error as a sentence; announced to screen readers when it appears. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
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
