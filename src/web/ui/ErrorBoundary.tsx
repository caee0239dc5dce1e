import { Component, type ReactNode } from "react";

interface State {
  error: Error | null;
}

/** A bug in a screen shows a message and a way out, never a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <main className="centered">
        <div className="card">
          <h1>This page hit a problem</h1>
          <p role="alert">{this.state.error.message || "Unexpected error."}</p>
          <button type="button" className="primary" onClick={() => window.location.reload()}>
            Reload the page
          </button>
        </div>
      </main>
    );
  }
}
