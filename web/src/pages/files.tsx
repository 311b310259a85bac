// Files: drag-and-drop uploads through the direct multipart path (a progress bar per file,
// resumable after a reload), the files list, and making a dataset from a file.
import { useEffect, useRef, useState, type DragEvent } from "react";
import { ApiError, authHeaders, describe, get, post, type FileView, type Page } from "../api";
import { onNotification } from "../live";
import { bytes, ErrorBox, Progress, Section, useLoad, when } from "../ui";

interface PartTarget {
  part_number: number;
  url: string;
  method: string;
  headers: Record<string, string>;
}

interface Started {
  upload_id: string;
  file_id: string;
  part_size: number;
  parts: PartTarget[];
}

interface Saved {
  upload_id: string;
  name: string;
  size: number;
  part_size: number;
  parts: PartTarget[];
  etags: Record<number, string>;
}

interface Upload {
  key: string;
  name: string;
  size: number;
  progress: number;
  state: "hashing" | "uploading" | "done" | "failed";
  error?: string;
  resumed?: boolean;
}

const PREFIX = "rivergen.upload.";

function fileKey(f: File): string {
  return `${PREFIX}${f.name}|${f.size}|${f.lastModified}`;
}

async function sha256(file: File): Promise<string> {
  if (!crypto.subtle) throw new Error("this page needs a secure context (HTTPS or localhost) to hash files");
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** PUT (or POST) a body with upload progress; resolves with the response's ETag. */
function send(method: string, url: string, body: Blob | FormData, headers: Record<string, string>,
  onProgress: (loaded: number) => void): Promise<{ etag: string; body: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    Object.entries(headers).forEach(([k, v]) => xhr.setRequestHeader(k, v));
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ etag: xhr.getResponseHeader("ETag") ?? "", body: xhr.responseText });
        return;
      }
      let code = `http_${xhr.status}`;
      let message = xhr.statusText;
      try {
        const err = JSON.parse(xhr.responseText).error;
        code = err.code;
        message = err.message;
      } catch {
        /* not JSON */
      }
      reject(new ApiError(xhr.status, code, message));
    };
    xhr.onerror = () => reject(new Error("the connection failed"));
    xhr.send(body);
  });
}

function sameOrigin(url: string): boolean {
  return new URL(url, location.href).origin === location.origin;
}

async function directUpload(file: File, update: (u: Partial<Upload>) => void): Promise<FileView> {
  const key = fileKey(file);
  let saved: Saved | null = JSON.parse(localStorage.getItem(key) ?? "null");
  if (saved) {
    try {
      const done = await get<{ part_number: number; etag: string }[]>(`storage/uploads/${saved.upload_id}/parts`);
      saved.etags = Object.fromEntries(done.map((p) => [p.part_number, p.etag]));
      update({ resumed: true });
    } catch {
      saved = null;
    }
  }
  if (!saved) {
    update({ state: "hashing" });
    const digest = await sha256(file);
    const started = await post<Started>("storage/uploads", {
      name: file.name, size: file.size, sha256: digest, content_type: file.type || "application/octet-stream",
    });
    saved = { upload_id: started.upload_id, name: file.name, size: file.size, part_size: started.part_size, parts: started.parts, etags: {} };
    localStorage.setItem(key, JSON.stringify(saved));
  }
  update({ state: "uploading" });
  const current = saved;
  let sent = Object.keys(current.etags).reduce((n, p) => n + Math.min(current.part_size, file.size - (Number(p) - 1) * current.part_size), 0);
  update({ progress: (100 * sent) / file.size });
  for (const part of current.parts) {
    if (current.etags[part.part_number]) continue;
    const start = (part.part_number - 1) * current.part_size;
    const blob = file.slice(start, Math.min(file.size, start + current.part_size));
    const headers = { ...part.headers, ...(sameOrigin(part.url) ? authHeaders() : {}) };
    const { etag } = await send(part.method || "PUT", part.url, blob, headers,
      (loaded) => update({ progress: (100 * (sent + loaded)) / file.size }));
    sent += blob.size;
    current.etags[part.part_number] = etag;
    localStorage.setItem(key, JSON.stringify(current));
  }
  const parts = current.parts.map((p) => ({ part_number: p.part_number, etag: current.etags[p.part_number] }));
  try {
    return await post<FileView>(`storage/uploads/${current.upload_id}/complete`, { parts });
  } finally {
    localStorage.removeItem(key);
  }
}

async function formUpload(file: File, update: (u: Partial<Upload>) => void): Promise<FileView> {
  update({ state: "uploading" });
  const form = new FormData();
  form.append("file", file, file.name);
  const { body } = await send("POST", "/api/v1/storage/upload", form, authHeaders(),
    (loaded) => update({ progress: (100 * loaded) / file.size }));
  return JSON.parse(body) as FileView;
}

export function FilesPage() {
  const files = useLoad(() => get<Page<FileView>>("storage/files?limit=100"), []);
  const quota = useLoad(() => get<{ used_bytes: number; limit_bytes: number }>("storage/quota"), []);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [single, setSingle] = useState(false);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const [pending] = useState(() => Object.keys(localStorage).filter((k) => k.startsWith(PREFIX)).map((k) => k.slice(PREFIX.length).split("|")[0]));
  useEffect(() => onNotification((n) => n.event === "storage.file.created" && files.reload()), [files.reload]);

  function start(list: FileList | null) {
    for (const file of Array.from(list ?? [])) {
      const key = `${file.name}-${Date.now()}-${Math.random()}`;
      const update = (u: Partial<Upload>) => setUploads((xs) => xs.map((x) => (x.key === key ? { ...x, ...u } : x)));
      setUploads((xs) => [...xs, { key, name: file.name, size: file.size, progress: 0, state: "hashing" }]);
      (single ? formUpload(file, update) : directUpload(file, update))
        .then(() => {
          update({ state: "done", progress: 100 });
          files.reload();
          quota.reload();
        })
        .catch((err) => update({ state: "failed", error: describe(err) }));
    }
  }
  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    start(e.dataTransfer.files);
  }
  return (
    <>
      <h1>Files</h1>
      <Section title="Upload">
        <div className={`drop ${dragging ? "over" : ""}`} onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
          onDragLeave={() => setDragging(false)} onDrop={onDrop}>
          <p>Drop files here, or</p>
          <button type="button" onClick={() => input.current?.click()}>Choose files…</button>
          <input ref={input} type="file" multiple className="sr-only" aria-label="Files to upload"
            onChange={(e) => { start(e.target.files); e.target.value = ""; }} />
          <label className="inline">
            <input type="checkbox" checked={single} onChange={(e) => setSingle(e.target.checked)} />
            Small file in one request (no resume)
          </label>
        </div>
        {pending.length > 0 && (
          <p className="muted" role="note">Interrupted uploads: {pending.join(", ")}. Choose the same file again to resume.</p>
        )}
        {quota.data && (
          <p className="muted">Storage: {bytes(quota.data.used_bytes)} of {bytes(quota.data.limit_bytes)}</p>
        )}
        <ul className="uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <li key={u.key} data-state={u.state}>
              <span>{u.name} ({bytes(u.size)}) — {u.state}{u.resumed ? " (resumed)" : ""}</span>
              <Progress value={u.progress} label={`Upload of ${u.name}`} />
              {u.error && <p className="error" role="alert">Upload of {u.name} failed: {u.error}</p>}
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Your files">
        <ErrorBox error={files.error} />
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Uploaded</th><th scope="col">Dataset</th></tr></thead>
          <tbody>
            {files.data?.items.map((f) => (
              <tr key={f.id}>
                <td>{f.name}</td>
                <td>{bytes(f.size)}</td>
                <td>{when(f.created_at)}</td>
                <td><MakeDataset file={f} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

function MakeDataset({ file }: { file: FileView }) {
  const [name, setName] = useState(file.name.replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9_-]+/g, "_"));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function make() {
    setBusy(true);
    setError(null);
    try {
      const ds = await post<{ id: string }>("datasets", { name, file_id: file.id });
      location.hash = `#/datasets/${ds.id}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="inline" onSubmit={(e) => { e.preventDefault(); make(); }}>
      <input aria-label={`Dataset name for ${file.name}`} value={name} onChange={(e) => setName(e.target.value)} required />
      <button type="submit" disabled={busy}>{busy ? "Making…" : "Make dataset"}</button>
      <ErrorBox error={error} />
    </form>
  );
}
