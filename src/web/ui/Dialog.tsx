import { type FormEvent, type ReactNode, useEffect, useId, useRef } from "react";
import { ErrorAlert, Spinner } from "./Alert.js";
import { OwnAlerts } from "./connection.js";

interface ConfirmDialogProps {
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  busyLabel: string;
  busy: boolean;
  /** False keeps the confirm button disabled (e.g. until RESTORE is typed). */
  canConfirm?: boolean;
  error?: unknown;
  danger?: boolean;
  onConfirm(): void;
  onClose(): void;
}

/**
 * A modal confirmation on the native <dialog>: focus moves into it, Escape cancels, the page behind is inert.
 * While the action runs it cannot be dismissed, so the outcome is always seen.
 */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const {
    title,
    children,
    confirmLabel,
    busyLabel,
    busy,
    canConfirm = true,
    error,
    danger,
    onConfirm,
    onClose,
  } = props;
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!busy && canConfirm) onConfirm();
  };

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      className="dialog"
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) onClose();
      }}
    >
      <form onSubmit={submit}>
        <h2 id={titleId}>{title}</h2>
        <OwnAlerts>
          {children}
          <ErrorAlert error={error} />
        </OwnAlerts>
        <div className="dialog-actions">
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="submit"
            className={danger ? "danger" : "primary"}
            disabled={busy || !canConfirm}
            aria-busy={busy}
          >
            {busy ? (
              <>
                <Spinner /> {busyLabel}
              </>
            ) : (
              confirmLabel
            )}
          </button>
        </div>
      </form>
    </dialog>
  );
}
