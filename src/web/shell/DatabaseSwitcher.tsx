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
 * Switches the server's current database (the persisted setting REST, tRPC and the CLI default to),
 * so what this page shows is what a script without `?database=` acts on.
 */
export function DatabaseSwitcher() {
  const client = useQueryClient();
  const databases = useDatabases();
  const selectId = useId();
  const [creating, setCreating] = useState(false);
  const switchTo = useMutation({
    mutationFn: (name: string) => api.databases.setCurrent.mutate({ name }),
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.databases }),
  });

  return (
    <div className="switcher">
      <label htmlFor={selectId}>Database</label>
      <select
        id={selectId}
        value={databases.data?.current ?? ""}
        disabled={!databases.data || switchTo.isPending}
        onChange={(event) => switchTo.mutate(event.target.value)}
      >
        {databases.data?.databases.map((db) => (
          <option key={db.name} value={db.name}>
            {db.name}
          </option>
        ))}
      </select>
      <button type="button" onClick={() => setCreating(true)}>
        New database
      </button>
      <ErrorAlert error={databases.error ?? switchTo.error} />
      {creating && (
        <NewDatabaseDialog
          onClose={() => setCreating(false)}
          onCreated={(name) => {
            setCreating(false);
            switchTo.mutate(name);
          }}
        />
      )}
    </div>
  );
}

function NewDatabaseDialog({ onClose, onCreated }: { onClose(): void; onCreated(name: string): void }) {
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => api.databases.create.mutate({ name }),
    onSuccess: (result) => onCreated(result.name),
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
      <p>An empty knowledge base with the current schema. The page switches to it once it exists.</p>
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
