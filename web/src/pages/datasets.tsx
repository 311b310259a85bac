// Datasets: the list and catalog search; one dataset's schema, versions, preview, profile
// charts, quality rules and lineage.
import { useState, type FormEvent } from "react";
import { get, post, type DatasetSummary, type DatasetView, type Page, type Preview, type ProfileView } from "../api";
import { BarChart, DataTable, ErrorBox, fmt, Histogram, Section, useLoad, when } from "../ui";

export function DatasetsPage() {
  const list = useLoad(() => get<Page<DatasetSummary>>("datasets?limit=100"), []);
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<{ id: string; name: string; score: number; matched_columns: string[] }[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  async function search(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      setHits((await get<{ items: NonNullable<typeof hits> }>(`catalog/search?q=${encodeURIComponent(q)}`)).items);
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h1>Datasets</h1>
      <Section title="Catalog search">
        <form role="search" onSubmit={search} className="inline">
          <input type="search" aria-label="Search the catalog" value={q} onChange={(e) => setQ(e.target.value)} required placeholder="e.g. orders amount" />
          <button type="submit">Search</button>
        </form>
        <ErrorBox error={error} />
        {hits && (
          <ul aria-label="Search results">
            {hits.length === 0 && <li>No dataset matches.</li>}
            {hits.map((h) => (
              <li key={h.id}><a href={`#/datasets/${h.id}`}>{h.name}</a> <small>score {fmt(h.score)}{h.matched_columns.length ? `; columns ${h.matched_columns.join(", ")}` : ""}</small></li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="All datasets">
        <ErrorBox error={list.error} />
        {list.data && list.data.items.length === 0 && <p>No datasets yet: upload a file in <a href="#/files">Files</a> and make one.</p>}
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Rows</th><th scope="col">Version</th><th scope="col">Tags</th><th scope="col">Updated</th></tr></thead>
          <tbody>
            {list.data?.items.map((d) => (
              <tr key={d.id}>
                <td><a href={`#/datasets/${d.id}`}>{d.name}</a></td>
                <td>{d.row_count ?? "—"}</td>
                <td>{d.current_version}</td>
                <td>{d.tags.join(", ")}</td>
                <td>{when(d.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

const TABS = ["Schema", "Preview", "Profile", "Quality", "Versions", "Lineage"] as const;
type Tab = (typeof TABS)[number];

export function DatasetPage({ id }: { id: string }) {
  const ds = useLoad(() => get<DatasetView>(`datasets/${id}`), [id]);
  const [tab, setTab] = useState<Tab>("Schema");
  if (ds.error) return <ErrorBox error={ds.error} />;
  if (!ds.data) return <p aria-busy="true">Loading…</p>;
  const d = ds.data;
  return (
    <>
      <h1>{d.name}</h1>
      <p className="muted">{d.row_count ?? "—"} rows · version {d.current_version}{d.description ? ` · ${d.description}` : ""}</p>
      <div role="tablist" aria-label="Dataset views" className="tabs">
        {TABS.map((t) => (
          <button key={t} role="tab" id={`tab-${t}`} aria-selected={tab === t} aria-controls="tabpanel" onClick={() => setTab(t)}>{t}</button>
        ))}
      </div>
      <div role="tabpanel" id="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === "Schema" && (
          <DataTable label="Schema" columns={["name", "type", "nullable", "description", "tags"]}
            rows={d.columns.map((c) => ({ ...c, tags: (c.tags ?? []).join(", ") }))} />
        )}
        {tab === "Preview" && <PreviewTab id={id} />}
        {tab === "Profile" && <ProfileTab id={id} />}
        {tab === "Quality" && <QualityTab id={id} columns={d.columns.map((c) => c.name)} />}
        {tab === "Versions" && (
          <DataTable label="Versions" columns={["version", "source_format", "row_count", "size_bytes", "invalid_row_count", "created_by", "created_at"]} rows={d.versions.map((v) => ({ ...v }))} />
        )}
        {tab === "Lineage" && <Lineage d={d} />}
      </div>
    </>
  );
}

function PreviewTab({ id }: { id: string }) {
  const p = useLoad(() => get<Preview>(`datasets/${id}/preview?limit=50`), [id]);
  if (p.error) return <ErrorBox error={p.error} />;
  if (!p.data) return <p aria-busy="true">Loading…</p>;
  return <DataTable label="Preview" columns={p.data.columns} rows={p.data.rows} />;
}

function ProfileTab({ id }: { id: string }) {
  const [profile, setProfile] = useState<ProfileView | null>(null);
  const [busy, setBusy] = useState(false);
  const [loadedError, setLoadedError] = useState<unknown>(null);
  async function last() {
    setLoadedError(null);
    try {
      setProfile(await get<ProfileView>(`datasets/${id}/profile`));
    } catch (err) {
      setLoadedError(err);
    }
  }
  const [error, setError] = useState<unknown>(null);
  async function run() {
    setBusy(true);
    setError(null);
    try {
      setProfile(await post<ProfileView>(`datasets/${id}/profile`));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div>
      <div className="inline">
        <button onClick={run} disabled={busy}>{busy ? "Profiling…" : profile ? "Profile again" : "Profile this dataset"}</button>
        <button onClick={last} disabled={busy}>Show the last profile</button>
      </div>
      <ErrorBox error={error ?? loadedError} />
      {profile && (
        <div className="profile" aria-label="Profile">
          <BarChart label="Null rate by column" unit="%"
            bars={profile.profile.columns.map((c) => ({ label: c.name, value: c.count ? Math.round((1000 * c.null_count) / c.count) / 10 : 0 }))} />
          <div className="grid">
            {profile.profile.columns.map((c) => (
              <article key={c.name} className="card column-profile" aria-label={`Column ${c.name}`}>
                <h3>{c.name} <small>{c.type}</small></h3>
                <p className="small">nulls {c.null_count} · distinct {fmt(c.distinct_count)} · min {fmt(c.min)} · max {fmt(c.max)}{c.mean !== null ? ` · mean ${fmt(c.mean)}` : ""}</p>
                {c.histogram && c.histogram.counts.length > 0 && (
                  <Histogram label={`Histogram of ${c.name}${c.histogram.kind === "length" ? " (lengths)" : ""}`} edges={c.histogram.edges} counts={c.histogram.counts} />
                )}
                {c.top_values.length > 0 && (
                  <BarChart label={`Top values of ${c.name}`} bars={c.top_values.slice(0, 8).map((t) => ({ label: fmt(t.value), value: t.count }))} />
                )}
              </article>
            ))}
          </div>
        </div>
      )}
    </div>
  );
}

const RULES = ["not_null", "unique", "range", "regex", "allowed_values", "freshness"];

function QualityTab({ id, columns }: { id: string; columns: string[] }) {
  const [kind, setKind] = useState("not_null");
  const [column, setColumn] = useState(columns[0] ?? "");
  const [extra, setExtra] = useState("");
  const [report, setReport] = useState<{ passed: boolean; results: { rule: Record<string, unknown>; passed: boolean; checked_count: number; failing_count: number }[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  async function check(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const rule: Record<string, unknown> = { kind, column, ...(extra.trim() ? JSON.parse(extra) : {}) };
      setReport(await post(`datasets/${id}/quality`, { rules: [rule] }));
    } catch (err) {
      setError(err instanceof SyntaxError ? new Error(`options are not JSON: ${err.message}`) : err);
    }
  }
  const hint: Record<string, string> = {
    range: '{"min": 0, "max": 100}', regex: '{"pattern": "^[a-z]+$"}', allowed_values: '{"values": ["a", "b"]}', freshness: '{"max_age_s": 86400}',
  };
  return (
    <div>
      <form onSubmit={check} className="inline wrap" aria-label="Quality rule">
        <label>Rule<select aria-label="Rule" value={kind} onChange={(e) => setKind(e.target.value)}>{RULES.map((r) => <option key={r}>{r}</option>)}</select></label>
        <label>Column<select aria-label="Column" value={column} onChange={(e) => setColumn(e.target.value)}>{columns.map((c) => <option key={c}>{c}</option>)}</select></label>
        <label>Options (JSON)<input value={extra} onChange={(e) => setExtra(e.target.value)} placeholder={hint[kind] ?? "{}"} /></label>
        <button type="submit">Check</button>
      </form>
      <ErrorBox error={error} />
      {report && (
        <div role="status">
          <p><strong>{report.passed ? "Passed" : "Failed"}</strong></p>
          <DataTable label="Quality results" columns={["rule", "passed", "checked_count", "failing_count"]}
            rows={report.results.map((r) => ({ ...r, rule: `${r.rule.kind} on ${r.rule.column}` }))} />
        </div>
      )}
    </div>
  );
}

function Lineage({ d }: { d: DatasetView }) {
  const link = (n: { kind: string; id: string; version: number | null; relation: string }) => {
    const href = n.kind === "dataset" ? `#/datasets/${n.id}` : n.kind === "job" ? `#/jobs/${n.id}` : undefined;
    const text = `${n.kind} ${n.id.slice(0, 8)}${n.version ? ` v${n.version}` : ""} (${n.relation})`;
    return href ? <a href={href}>{text}</a> : <span>{text}</span>;
  };
  return (
    <div className="lineage grid">
      <section aria-label="Upstream"><h3>Made from</h3><ul>{d.upstream.map((n, i) => <li key={i}>{link(n)}</li>)}{d.upstream.length === 0 && <li>nothing recorded</li>}</ul></section>
      <section aria-label="Downstream"><h3>Used by</h3><ul>{d.downstream.map((n, i) => <li key={i}>{link(n)}</li>)}{d.downstream.length === 0 && <li>nothing yet</li>}</ul></section>
    </div>
  );
}

