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
    case "dataset.profiled":
      return "Dataset profiled";
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
        <span aria-hidden="true">🔔</span> {unread > 0 && <span className="badge">{unread}</span>}
      </button>
      <span className={`dot ${connected ? "on" : "off"}`} role="status" aria-label={connected ? "Live" : "Reconnecting"}
        data-live={connected ? "on" : "off"} />
      <div className="sr-only" aria-live="polite">{items[0] ? summary(items[0]) : ""}</div>
      {open && (
        <ul id="notif-list" className="notif-list" aria-label="Notifications">
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
