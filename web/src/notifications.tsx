// The corner: live notifications of the current workspace, newest first.
import { useEffect, useState } from "react";
import type { Notification } from "./api";
import { onNotification, onStatus } from "./live";

function summary(n: Notification): string {
  const d = n.data;
  switch (n.event) {
    case "job.progress":
      return `Job ${String(d.job_id ?? "").slice(0, 8)}: ${Math.round(Number(d.progress ?? 0))}%`;
    case "job.completed":
      return `Job ${String(d.job_id ?? "").slice(0, 8)} completed`;
    case "job.failed":
      return `Job ${String(d.job_id ?? "").slice(0, 8)} failed`;
    case "storage.file.created":
      return `File ${String(d.name ?? "")} uploaded`;
    case "job.cancelled":
      return `Job ${String(d.job_id ?? "").slice(0, 8)} cancelled`;
    case "dataset.profiled":
      return "Dataset profiled";
    case "dataset.version.created":
      return `New dataset version ${String(d.version ?? "")}`.trim();
    case "prompt.completed":
      return "Prompt answered";
    default:
      return n.type;
  }
}

export function Notifications({ workspace }: { workspace: string }) {
  const [items, setItems] = useState<Notification[]>([]);
  const [open, setOpen] = useState(false);
  const [unread, setUnread] = useState(0);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    setItems([]);
    setUnread(0);
  }, [workspace]);
  useEffect(() => onStatus(setConnected), []);
  useEffect(() => {
    const close = () => setOpen(false);
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && close();
    addEventListener("hashchange", close);
    addEventListener("keydown", onKey);
    return () => {
      removeEventListener("hashchange", close);
      removeEventListener("keydown", onKey);
    };
  }, []);
  useEffect(
    () =>
      onNotification((n) => {
        if (n.event === "job.progress" || n.event === "prompt.progress") return; // too chatty
        setItems((xs) => [n, ...xs].slice(0, 50));
        setUnread((u) => u + 1);
      }),
    [],
  );
  return (
    <div className="notif">
      <button aria-expanded={open} aria-controls="notif-list" onClick={() => { setOpen(!open); setUnread(0); }}
        aria-label={`Notifications, ${unread} new`}>
        <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18" className="bell">
          <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z" />
        </svg>{unread > 0 && <span className="badge">{unread}</span>}
      </button>
      <span className={`dot ${connected ? "on" : "off"}`} role="status" aria-label={connected ? "Live" : "Reconnecting"}
        data-live={connected ? "on" : "off"} />
      <div className="sr-only" aria-live="polite">{items[0] ? summary(items[0]) : ""}</div>
      {open && (
        // Focusable: a long list scrolls, and keyboard users must reach its end.
        <ul id="notif-list" className="notif-list" aria-label="Notifications" tabIndex={0}>
          {items.length === 0 && <li className="muted">Nothing yet.</li>}
          {items.map((n) => (
            <li key={n.id}>
              <strong>{summary(n)}</strong>
              <br />
              <small>{new Date(n.occurred_at).toLocaleTimeString()}</small>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
