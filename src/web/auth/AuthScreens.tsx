import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, errorCode, queryKeys } from "../api.js";
import { AUTH_FLOW } from "../query-client.js";
import { ErrorAlert, Notice, Spinner } from "../ui/Alert.js";

interface ScreenProps {
  onDone(username: string): void;
}

/** First run: the operator account does not exist yet. Limits mirror the server's (SPEC §3). */
export function SetupScreen({ onDone }: ScreenProps) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const client = useQueryClient();
  const setup = useMutation({
    mutationFn: () => api.auth.setup.mutate({ username, password }),
    onSuccess: (result) => onDone(result.username),
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
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            minLength={3}
            maxLength={64}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            maxLength={128}
            aria-describedby="password-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <small id="password-hint">8 to 128 characters.</small>
        <label>
          Confirm password
          <input
            name="confirm"
            type="password"
            autoComplete="new-password"
            required
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
        </label>
        {mismatch && (
          <p role="alert" className="alert alert-error">
            The two passwords differ.
          </p>
        )}
        <ErrorAlert error={setup.error} />
        <button type="submit" className="primary" disabled={setup.isPending} aria-busy={setup.isPending}>
          {setup.isPending && <Spinner />} Create account
        </button>
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
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorAlert error={login.error} />
        <button type="submit" className="primary" disabled={login.isPending} aria-busy={login.isPending}>
          {login.isPending && <Spinner />} Log in
        </button>
      </form>
    </main>
  );
}
