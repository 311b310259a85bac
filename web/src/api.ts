// The API client: one fetch wrapper that adds the credentials and the workspace, refreshes an
// expired access token once, and turns the platform's error envelope into an ApiError.

export interface Session {
  access: string;
  refresh: string;
  workspace: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: unknown = null,
  ) {
    super(message);
  }
}

const KEY = "rivergen.session";
let session: Session | null = load();
const listeners = new Set<(s: Session | null) => void>();

function load(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return session;
}

export function setSession(next: Session | null): void {
  session = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next));
  else localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(next));
}

export function onSession(fn: (s: Session | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

interface TokenPair {
  access_token: string;
  refresh_token: string;
  workspace_id: string;
}

export function adopt(pair: TokenPair): void {
  setSession({ access: pair.access_token, refresh: pair.refresh_token, workspace: pair.workspace_id });
}

let refreshing: Promise<boolean> | null = null;

export function refreshTokens(): Promise<boolean> {
  if (!session) return Promise.resolve(false);
  refreshing ??= (async () => {
    const current = session;
    try {
      const res = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: current?.refresh }),
      });
      if (!res.ok) {
        setSession(null);
        return false;
      }
      const pair = (await res.json()) as TokenPair;
      setSession({ access: pair.access_token, refresh: pair.refresh_token, workspace: current?.workspace ?? pair.workspace_id });
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export function authHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  if (session) {
    headers.authorization = `Bearer ${session.access}`;
    headers["x-workspace-id"] = session.workspace;
  }
  return headers;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || "request failed";
  let details: unknown = null;
  try {
    const body = await res.json();
    if (body?.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      details = body.error.details ?? null;
    } else if (Array.isArray(body?.detail)) {
      code = "validation_failed";
      message = body.detail.map((d: { msg: string }) => d.msg).join("; ");
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message, details);
}

export async function request(method: string, path: string, init: RequestInit = {}, retry = true): Promise<Response> {
  const headers = { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) };
  const res = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, { ...init, method, headers });
  if (res.status === 401 && retry && session) {
    const err = await errorOf(res.clone());
    if (err.code === "token_expired" && (await refreshTokens())) return request(method, path, init, false);
    if (err.code === "session_expired" || err.code === "invalid_token") setSession(null);
    throw err;
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = {};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await request(method, path, init);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = (path: string) => api<void>("DELETE", path);

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    // A validation error says where and why: show the first few.
    const problems = (error.details as { errors?: { loc: unknown[]; msg: string }[] } | null)?.errors ?? [];
    const where = problems.slice(0, 3).map((p) => `${p.loc.filter((l) => l !== "body").join(".")}: ${p.msg}`);
    return `${error.message}${where.length ? ` — ${where.join("; ")}` : ""} (${error.code})`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

// --- Shapes of the API (the subset the client reads) ---------------------------------------

export interface Workspace {
  id: string;
  name: string;
  role: string;
  organization_id: string | null;
  created_at: string;
}

export interface Me {
  user_id: string | null;
  email: string | null;
  display_name: string | null;
  workspace_id: string | null;
  role: string | null;
  workspaces: Workspace[];
  default_workspace_id: string | null;
  /** A platform operator (the Operations page is theirs). */
  operator: boolean;
}

export interface Column {
  name: string;
  type: string;
  nullable?: boolean;
  description?: string;
  tags?: string[];
}

export interface FileView {
  id: string;
  name: string;
  content_type: string;
  size: number;
  created_at: string;
}

export interface DatasetSummary {
  id: string;
  name: string;
  description: string;
  tags: string[];
  current_version: number;
  row_count: number | null; // null: the caller's policies filter the rows
  created_at: string;
}

export interface LineageNode {
  kind: string;
  id: string;
  version: number | null;
  relation: string;
}

export interface VersionView {
  version: number;
  source_format: string;
  row_count: number | null;
  size_bytes: number;
  invalid_row_count: number;
  created_by: string;
  created_at: string;
}

export interface DatasetView extends DatasetSummary {
  columns: Column[];
  versions: VersionView[];
  upstream: LineageNode[];
  downstream: LineageNode[];
}

export type Row = Record<string, unknown>;

export interface Preview {
  version: number;
  columns: Column[];
  rows: Row[];
  row_count: number;
}

export interface ColumnProfile {
  name: string;
  type: string;
  count: number;
  null_count: number;
  distinct_count: number | null;
  min: unknown;
  max: unknown;
  mean: number | null;
  top_values: { value: unknown; count: number }[];
  histogram: { kind: string; edges: (number | string)[]; counts: number[] } | null;
}

export interface ProfileView {
  dataset_id: string;
  version: number;
  profile: { row_count: number; column_count: number; columns: ColumnProfile[]; duration_s: number };
}

export interface Job {
  id: string;
  kind: string;
  name: string | null;
  params: Record<string, unknown>;
  state: string;
  progress: number;
  message: string;
  error: { code: string; message: string } | null;
  result: { dataset_id: string; version: number; summary: Record<string, unknown> } | null;
  created_at: string;
  compute_seconds: number;
}

export interface ResultPage {
  job_id: string;
  dataset_id: string;
  columns: Column[];
  rows: Row[];
  row_count: number;
  next_cursor: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Notification {
  id: number;
  event: string;
  type: string;
  workspace_id: string;
  occurred_at: string;
  data: Record<string, unknown>;
}
