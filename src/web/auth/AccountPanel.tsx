import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api } from "../api.js";
import { useSession } from "../session.js";
import { ErrorAlert, Notice, Spinner } from "../ui/Alert.js";

/** Settings → Account: the operator changes the password, proving the current one; other sessions end. */
export function AccountPanel() {
  const session = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: () => api.auth.changePassword.mutate({ current_password: current, new_password: next }),
    onMutate: () => setNotice(null),
    onSuccess: (result) => {
      setCurrent("");
      setNext("");
      setConfirm("");
      const others =
        result.sessions_ended === 1 ? "1 other session was" : `${result.sessions_ended} other sessions were`;
      setNotice(`Password changed. ${others} signed out; this one stays signed in.`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setMismatch(next !== confirm);
    if (next === confirm) change.mutate();
  };

  return (
    <section aria-labelledby="account-title">
      <p className="crumbs">Settings</p>
      <h1 id="account-title">Account</h1>
      <p className="intro">
        Signed in as <strong>{session.username}</strong>. Forgot the password? On the server's host,{" "}
        <code>chaoscypher auth reset-password</code> sets a new one.
      </p>
      <form className="account-form" onSubmit={submit} aria-labelledby="password-title">
        <h2 id="password-title">Change password</h2>
        <PasswordField label="Current password" autoComplete="current-password" value={current} onValue={setCurrent} />
        <PasswordField label="New password" autoComplete="new-password" value={next} onValue={setNext} min />
        <small>8 to 128 characters. Every other browser signed in as you is signed out.</small>
        <PasswordField label="Confirm new password" autoComplete="new-password" value={confirm} onValue={setConfirm} />
        {mismatch && (
          <p role="alert" className="alert alert-error">
            The two new passwords differ.
          </p>
        )}
        <ErrorAlert error={change.error} />
        <Notice>{notice}</Notice>
        <div>
          <button type="submit" className="primary" disabled={change.isPending} aria-busy={change.isPending}>
            {change.isPending && <Spinner />} Change password
          </button>
        </div>
      </form>
    </section>
  );
}

interface FieldProps {
  label: string;
  autoComplete: string;
  value: string;
  min?: boolean;
  onValue(value: string): void;
}

function PasswordField({ label, autoComplete, value, min, onValue }: FieldProps) {
  return (
    <label>
      {label}
      <input
        type="password"
        required
        autoComplete={autoComplete}
        minLength={min ? 8 : undefined}
        maxLength={128}
        value={value}
        onChange={(event) => onValue(event.currentTarget.value)}
      />
    </label>
  );
}
