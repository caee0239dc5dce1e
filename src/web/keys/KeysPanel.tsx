import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { type ApiKey, api, type Outputs, queryKeys } from "../api.js";

type Scope = ApiKey["scope"];

import { formatLocal, parseIso } from "../format.js";
import { ErrorAlert, Notice, Spinner } from "../ui/Alert.js";
import { ConfirmDialog } from "../ui/Dialog.js";
import { NewKey } from "./NewKey.js";

/** Settings → API Keys: keys for scripts (`Authorization: Bearer cc_live_...`). */
export function KeysPanel() {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [expires, setExpires] = useState("");
  const [minted, setMinted] = useState<Outputs["keys"]["create"] | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const keys = useQuery({ queryKey: queryKeys.keys, queryFn: () => api.keys.list.query() });
  const create = useMutation({
    mutationFn: () =>
      api.keys.create.mutate({
        name: name.trim(),
        scope,
        // A date means "until the end of that day" in the browser's zone.
        expires_at: expires ? new Date(`${expires}T23:59:59`).toISOString() : undefined,
      }),
    onMutate: () => setNotice(null),
    onSuccess: (key) => {
      setMinted(key);
      setName("");
      setExpires("");
    },
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.keys }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };

  return (
    <section aria-labelledby="keys-title">
      <p className="crumbs">Settings</p>
      <h1 id="keys-title">API Keys</h1>
      <p className="intro">
        Scripts and the REST API authenticate with <code>Authorization: Bearer cc_live_…</code>. Keys belong to the
        server (they live in the <code>default</code> database), whichever database is selected.
      </p>
      <p className="intro">
        A key's scope limits it: <strong>read</strong> sees lists, status, metrics and downloads (give this one to
        Prometheus); <strong>operate</strong> also creates, verifies, uploads, restores and deletes backups;{" "}
        <strong>admin</strong> also manages keys, schedules, databases and upgrades.
      </p>
      <form className="toolbar" onSubmit={submit}>
        <label>
          Key name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} />
        </label>
        <label>
          Scope
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            <option value="read">read (view only)</option>
            <option value="operate">operate (+ backups)</option>
            <option value="admin">admin (everything)</option>
          </select>
        </label>
        <label>
          Expires (optional)
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={create.isPending} aria-busy={create.isPending}>
          {create.isPending && <Spinner />} Create key
        </button>
      </form>
      <ErrorAlert error={create.error} />
      {minted && <NewKey minted={minted} onDone={() => setMinted(null)} />}
      <Notice>{notice}</Notice>
      <ErrorAlert error={keys.error} />
      {keys.data && <KeyTable keys={keys.data.keys} onRevoke={setRevoking} />}
      {revoking && (
        <RevokeDialog
          apiKey={revoking}
          onClose={() => setRevoking(null)}
          onRevoked={() => {
            setNotice(`Key ${revoking.name} revoked.`);
            setRevoking(null);
          }}
        />
      )}
    </section>
  );
}

function KeyTable({ keys, onRevoke }: { keys: ApiKey[]; onRevoke(key: ApiKey): void }) {
  if (keys.length === 0) return <p className="empty">No API keys yet.</p>;
  return (
    <div className="table-wrap">
      <table className="stack">
        <caption className="visually-hidden">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key starts</th>
            <th scope="col">Scope</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <th scope="row">{key.name}</th>
              <td className="nowrap mono" data-label="Key starts">
                {key.prefix}…
              </td>
              <td data-label="Scope">{key.scope}</td>
              <td className="nowrap" data-label="Created">
                <Time value={key.created_at} />
              </td>
              <td className="nowrap" data-label="Expires">
                <Time value={key.expires_at} fallback="never" />
                {key.expires_at && Date.parse(key.expires_at) <= Date.now() && " (expired)"}
              </td>
              <td className="nowrap" data-label="Last used">
                <Time value={key.last_used_at} fallback="never" />
              </td>
              <td className="actions">
                <button type="button" className="danger-text" onClick={() => onRevoke(key)}>
                  Revoke<span className="visually-hidden"> {key.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Time({ value, fallback = "" }: { value: string | null | undefined; fallback?: string }) {
  const date = parseIso(value);
  if (!date) return <>{fallback}</>;
  return <time dateTime={date.toISOString()}>{formatLocal(date)}</time>;
}

function RevokeDialog({ apiKey, onClose, onRevoked }: { apiKey: ApiKey; onClose(): void; onRevoked(): void }) {
  const client = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => api.keys.revoke.mutate({ id: apiKey.id }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: queryKeys.keys });
      onRevoked();
    },
  });
  return (
    <ConfirmDialog
      title={`Revoke key ${apiKey.name}?`}
      confirmLabel="Revoke"
      busyLabel="Revoking…"
      busy={revoke.isPending}
      danger
      error={revoke.error}
      onConfirm={() => revoke.mutate()}
      onClose={onClose}
    >
      <p>Scripts using this key are refused from their next request on. This cannot be undone.</p>
    </ConfirmDialog>
  );
}
