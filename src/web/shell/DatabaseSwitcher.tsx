import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, queryKeys } from "../api.js";
import { ErrorAlert } from "../ui/Alert.js";
import { ConfirmDialog } from "../ui/Dialog.js";

/** The databases and which one is current, shared by the switcher and the panels. */
export function useDatabases() {
  return useQuery({ queryKey: queryKeys.databases, queryFn: () => api.databases.list.query() });
}

/**
 * Chooses the database this page shows. It only changes the address (`/db/<name>/…`): the server's current
 * database, which calls naming none act on, changes only through the explicit "Make … current" button.
 */
export function DatabaseSwitcher({ viewed, onSwitch }: { viewed: string | null; onSwitch(name: string): void }) {
  const databases = useDatabases();
  const selectId = useId();
  const [creating, setCreating] = useState(false);
  const listed = databases.data?.databases ?? [];

  return (
    <div className="switcher">
      <label htmlFor={selectId}>Database</label>
      <select
        id={selectId}
        value={viewed ?? ""}
        disabled={!databases.data}
        onChange={(event) => onSwitch(event.target.value)}
      >
        {viewed && databases.data && !listed.some((db) => db.name === viewed) && (
          <option value={viewed}>{viewed}</option>
        )}
        {listed.map((db) => (
          <option key={db.name} value={db.name}>
            {db.name}
            {db.name === databases.data?.current ? " (current)" : ""}
          </option>
        ))}
      </select>
      <button type="button" onClick={() => setCreating(true)}>
        New database
      </button>
      <ErrorAlert error={databases.error} />
      {creating && (
        <NewDatabaseDialog
          onClose={() => setCreating(false)}
          onCreated={(name) => {
            setCreating(false);
            onSwitch(name);
          }}
        />
      )}
    </div>
  );
}

/** The server-wide current database, labelled, with the one explicit action that changes it. */
export function CurrentDatabase({ viewed }: { viewed: string }) {
  const client = useQueryClient();
  const databases = useDatabases();
  const makeCurrent = useMutation({
    mutationFn: () => api.databases.setCurrent.mutate({ name: viewed }),
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.databases }),
  });
  const current = databases.data?.current;
  if (!current) return null;
  return (
    <div className="current-db">
      {current === viewed ? (
        <p>
          <strong>{viewed}</strong> is the current database: API calls and CLI commands that name no database act on it.
        </p>
      ) : (
        <p>
          The current database — the one API calls and CLI commands that name no database act on — is{" "}
          <strong>{current}</strong>.{" "}
          <button type="button" onClick={() => makeCurrent.mutate()} disabled={makeCurrent.isPending}>
            Make {viewed} the current database
          </button>
        </p>
      )}
      <ErrorAlert error={makeCurrent.error} />
    </div>
  );
}

function NewDatabaseDialog({ onClose, onCreated }: { onClose(): void; onCreated(name: string): void }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => api.databases.create.mutate({ name }),
    onSuccess: async (result) => {
      await client.invalidateQueries({ queryKey: queryKeys.databases });
      onCreated(result.name);
    },
  });
  return (
    <ConfirmDialog
      title="New database"
      confirmLabel="Create database"
      busyLabel="Creating…"
      busy={create.isPending}
      canConfirm={name.length > 0}
      error={create.error}
      onConfirm={() => create.mutate()}
      onClose={onClose}
    >
      <p>
        An empty knowledge base with the current schema. The page shows it once it exists; the current database stays as
        it is.
      </p>
      <label>
        Name
        <input
          value={name}
          onChange={(event) => setName(event.currentTarget.value)}
          maxLength={64}
          aria-describedby="db-name-hint"
          // biome-ignore lint/a11y/noAutofocus: the dialog exists to type this one field
          autoFocus
        />
      </label>
      <small id="db-name-hint">1–64 letters, digits, “_” or “-”.</small>
    </ConfirmDialog>
  );
}
