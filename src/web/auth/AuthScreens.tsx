import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type InputHTMLAttributes, useState } from "react";
import { api, errorCode, queryKeys } from "../api.js";
import { AUTH_FLOW } from "../query-client.js";
import { ErrorAlert, Notice, Spinner } from "../ui/Alert.js";

interface ScreenProps {
  onDone(username: string): void;
}

type FieldProps = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  label: string;
  value: string;
  onValue(value: string): void;
};

/** A required input inside its label, so the label text is the input's accessible name. */
function Field({ label, value, onValue, ...input }: FieldProps) {
  return (
    <label>
      {label}
      <input required {...input} value={value} onChange={(e) => onValue(e.target.value)} />
    </label>
  );
}

function SubmitButton({ busy, label }: { busy: boolean; label: string }) {
  return (
    <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
      {busy && <Spinner />} {label}
    </button>
  );
}

/** The token of the setup URL the server printed (`/?setup=<token>`); without one the form asks for it. */
function setupTokenInAddress(): string {
  return new URLSearchParams(window.location.search).get("setup") ?? "";
}

/** Once used, the token leaves the address bar (and the browser's history of it). */
function forgetSetupToken() {
  const url = new URL(window.location.href);
  url.searchParams.delete("setup");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

/** First run: the operator account does not exist yet. Limits mirror the server's (src/services/auth). */
export function SetupScreen({ onDone }: ScreenProps) {
  const [fromAddress] = useState(setupTokenInAddress);
  const [token, setToken] = useState(fromAddress);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const client = useQueryClient();
  const setup = useMutation({
    mutationFn: () => api.auth.setup.mutate({ username, password, setup_token: token.trim() }),
    onSuccess: (result) => {
      forgetSetupToken();
      onDone(result.username);
    },
    // Someone else finished setup meanwhile: the status query then leads to the login screen.
    onError: (error) => {
      if (errorCode(error) === "CONFLICT") void client.invalidateQueries({ queryKey: queryKeys.status });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setMismatch(password !== confirm);
    if (password === confirm) setup.mutate();
  };

  return (
    <main className="centered">
      <form className="card" onSubmit={submit}>
        <h1>Set up Chaos Cypher</h1>
        <p>Create the operator account. It signs in to this maintenance page and is stored in the default database.</p>
        {!fromAddress && (
          <>
            <Field
              label="Setup token"
              name="setup-token"
              autoComplete="off"
              aria-describedby="token-hint"
              value={token}
              onValue={setToken}
            />
            <small id="token-hint">
              The server printed a setup link ending in <code>/?setup=…</code> to its log when it started: open that
              link, or paste the part after <code>setup=</code> here.
            </small>
          </>
        )}
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          minLength={3}
          maxLength={64}
          value={username}
          onValue={setUsername}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          minLength={8}
          maxLength={128}
          aria-describedby="password-hint"
          value={password}
          onValue={setPassword}
        />
        <small id="password-hint">8 to 128 characters.</small>
        <Field
          label="Confirm password"
          name="confirm"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onValue={setConfirm}
        />
        {mismatch && (
          <p role="alert" className="alert alert-error">
            The two passwords differ.
          </p>
        )}
        <ErrorAlert error={setup.error} />
        <SubmitButton busy={setup.isPending} label="Create account" />
      </form>
    </main>
  );
}

export function LoginScreen({ onDone, notice }: ScreenProps & { notice: string | null }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation({
    mutationFn: () => api.auth.login.mutate({ username, password }),
    meta: AUTH_FLOW,
    onSuccess: (result) => onDone(result.username),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate();
  };

  return (
    <main className="centered">
      <form className="card" onSubmit={submit}>
        <h1>Log in</h1>
        <p>Chaos Cypher maintenance: backups, restores and API keys.</p>
        <Notice>{notice}</Notice>
        <Field label="Username" name="username" autoComplete="username" value={username} onValue={setUsername} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onValue={setPassword}
        />
        <ErrorAlert error={login.error} />
        <SubmitButton busy={login.isPending} label="Log in" />
      </form>
    </main>
  );
}
