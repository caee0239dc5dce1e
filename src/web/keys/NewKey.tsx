import { useId, useRef, useState } from "react";
import type { Outputs } from "../api.js";

type Minted = Outputs["keys"]["create"];

/** The freshly minted key: shown this once (the server keeps only its hash), with a copy button. */
export function NewKey({ minted, onDone }: { minted: Minted; onDone(): void }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const warningId = useId();

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(minted.key);
      setCopied("yes");
    } catch {
      // Clipboard refused (no permission, not a secure context): select it so Ctrl+C works.
      inputRef.current?.select();
      setCopied("failed");
    }
  };

  return (
    <section className="newkey" aria-label="Newly created key">
      <h2>Key “{minted.name}” created</h2>
      <p>
        Scope <strong>{minted.scope}</strong>
        {minted.expires_at ? `, expires ${new Date(minted.expires_at).toLocaleString()}` : ", does not expire"}.
      </p>
      <p id={warningId} className="warning">
        Copy this key now. It is shown only this once: the server keeps just a hash of it.
      </p>
      <div className="copyrow">
        <label>
          New API key
          <input
            ref={inputRef}
            readOnly
            value={minted.key}
            className="mono"
            aria-describedby={warningId}
            onFocus={(e) => e.currentTarget.select()}
          />
        </label>
        <button type="button" className="primary" onClick={copy}>
          Copy key
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
      <p role="status">
        {copied === "yes" && "Copied to the clipboard."}
        {copied === "failed" && "The browser refused the clipboard: the key is selected, press Ctrl+C to copy it."}
      </p>
    </section>
  );
}
