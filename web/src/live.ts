// Live notifications: one Socket.io connection (websocket transport, the token in `auth`),
// and a catch-up through GET /notifications?since= on every (re)connect, so nothing is missed
// while the socket was down. Listeners get each notification of the current workspace once.
import { io, Socket } from "socket.io-client";
import { get, getSession, refreshTokens, type Notification } from "./api";

export const LIVE_EVENTS = [
  "job.progress", "job.completed", "job.failed", "job.cancelled",
  "storage.file.created", "dataset.profiled", "dataset.version.created",
  "prompt.progress", "prompt.completed", "model.trained", "decision.made",
  "governance.alert", "notification",
];

type Listener = (n: Notification) => void;
type StatusListener = (connected: boolean) => void;

const listeners = new Set<Listener>();
const statusListeners = new Set<StatusListener>();
let socket: Socket | null = null;
let workspace: string | null = null;
let lastId = 0;
const seen = new Set<number>();

function cursorKey(ws: string): string {
  return `rivergen.notifications.${ws}`;
}

export function onNotification(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onStatus(fn: StatusListener): () => void {
  statusListeners.add(fn);
  fn(socket?.connected ?? false);
  return () => statusListeners.delete(fn);
}

function deliver(n: Notification): void {
  if (n.workspace_id !== workspace || seen.has(n.id)) return;
  seen.add(n.id);
  if (n.id > lastId) {
    lastId = n.id;
    localStorage.setItem(cursorKey(n.workspace_id), String(lastId));
  }
  listeners.forEach((fn) => fn(n));
}

async function catchUp(): Promise<void> {
  const ws = workspace;
  for (let i = 0; i < 20 && ws === workspace; i++) {
    const since = lastId > 0 ? `since=${lastId}&` : "";
    const page = await get<{ items: Notification[]; next_since: number | null; has_more: boolean }>(
      `notifications?${since}limit=200`,
    );
    page.items.forEach(deliver);
    if (!page.has_more) break;
  }
}

export function connectLive(ws: string): void {
  disconnectLive();
  workspace = ws;
  seen.clear();
  lastId = Number(localStorage.getItem(cursorKey(ws)) ?? 0);
  const s = io({
    path: "/socket.io",
    transports: ["websocket"],
    auth: (cb) => cb({ token: getSession()?.access ?? "" }),
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  socket = s;
  s.on("connect", () => {
    statusListeners.forEach((fn) => fn(true));
    catchUp().catch(() => undefined);
  });
  s.on("disconnect", () => statusListeners.forEach((fn) => fn(false)));
  s.on("connect_error", (err: Error & { data?: { code?: string } }) => {
    statusListeners.forEach((fn) => fn(false));
    const code = err.data?.code;
    if (code === "token_expired") {
      refreshTokens().then((ok) => ok && s.connect());
    }
  });
  s.on("revoked", (info: { code?: string }) => {
    if (info?.code === "token_expired") refreshTokens().then((ok) => ok && s.connect());
  });
  for (const name of LIVE_EVENTS) s.on(name, (n: Notification) => deliver(n));
  // Several at once (a burst): one message, its items oldest first, each under its own name.
  s.on("notifications", (batch: { items?: Notification[] }) => batch.items?.forEach(deliver));
}

export function disconnectLive(): void {
  socket?.removeAllListeners();
  socket?.disconnect();
  socket = null;
  statusListeners.forEach((fn) => fn(false));
}

/** Drop the socket as a network failure would (the client reconnects and catches up). */
export function dropForTest(): void {
  socket?.io.engine?.close();
}
