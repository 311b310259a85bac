// Semantic layer: the workspace's business vocabulary over its datasets (names, synonyms, column
// roles, measures, relationships, verified queries). An editor drafts it from the catalog,
// edits it, saves it as a new version and confirms it; the prompt providers use the newest
// confirmed version.
import { useEffect, useState } from "react";
import { api, ApiError, get, post, type Page } from "../api";
import { ErrorBox, Section, useAction, useLoad, when } from "../ui";

interface LayerColumn {
  name: string;
  business_name: string;
  description: string;
  synonyms: string[];
  role: string;
  true_values: string[];
  false_values: string[];
}

interface LayerDataset {
  name: string;
  business_name: string;
  description: string;
  synonyms: string[];
  columns: LayerColumn[];
}

interface Measure {
  name: string;
  dataset: string;
  expression: string;
  aggregation: string;
  synonyms: string[];
  description: string;
}

interface Relationship {
  from_dataset: string;
  from_column: string;
  to_dataset: string;
  to_column: string;
}

interface VerifiedQuery {
  question: string;
  sql: string;
}

interface Layer {
  datasets: LayerDataset[];
  measures: Measure[];
  relationships: Relationship[];
  verified_queries: VerifiedQuery[];
}

interface LayerVersion {
  version: number;
  status: "draft" | "confirmed";
  source: "draft" | "edit";
  layer: Layer;
  created_by: string;
  created_at: string;
  confirmed_by: string | null;
  confirmed_at: string | null;
  in_use: boolean;
}

const ROLES = ["dimension", "time_dimension", "measure_source", "boolean", "identifier"];
const AGGREGATIONS = ["sum", "avg", "min", "max", "count", "count_distinct", "none"];
const EDITORS = ["editor", "admin", "owner"];
const NEW_MEASURE: Measure = { name: "", dataset: "", expression: "", aggregation: "sum", synonyms: [], description: "" };

const words = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
const joined = (items: string[]) => items.join(", ");

/** The current version, or null before there is one. */
async function currentLayer(): Promise<LayerVersion | null> {
  try {
    return await get<LayerVersion>("semantic-layer");
  } catch (err) {
    if (err instanceof ApiError && err.code === "semantic_layer_not_found") return null;
    throw err;
  }
}

function where(error: unknown): string | null {
  const details = error instanceof ApiError ? (error.details as { where?: string } | null) : null;
  return details?.where ?? null;
}

export function SemanticPage({ role }: { role: string | undefined }) {
  const current = useLoad(currentLayer, []);
  const versions = useLoad(() => get<Page<LayerVersion>>("semantic-layer/versions?limit=20"), []);
  const [doc, setDoc] = useState<Layer | null>(null);
  const [basedOn, setBasedOn] = useState<number | null>(null);
  const [error, act, busy] = useAction();
  const editor = EDITORS.includes(role ?? "");
  useEffect(() => {
    if (current.data) {
      setDoc(structuredClone(current.data.layer));
      setBasedOn(current.data.version);
    }
  }, [current.data]);
  const reload = () => {
    current.reload();
    versions.reload();
  };
  const change = (fn: (d: Layer) => void) => setDoc((d) => {
    if (!d) return d;
    const next = structuredClone(d);
    fn(next);
    return next;
  });
  const version = current.data;
  return (
    <>
      <h1>Semantic layer</h1>
      <p className="muted">
        What the workspace's datasets mean in its own words: the <a href="#/prompts">Prompt Studio</a> providers use the
        newest confirmed version. Each save is a new version; a draft is not used until it is confirmed.
      </p>
      <Section title="Current version" actions={editor ? (
        <span className="inline">
          <button disabled={busy} onClick={() => act(async () => { await post("semantic-layer/draft"); reload(); })}>
            Draft from the catalog
          </button>
          {version && version.status === "draft" && (
            <button disabled={busy} onClick={() => act(async () => {
              await post("semantic-layer/confirm", { version: version.version });
              reload();
            })}>Confirm version {version.version}</button>
          )}
        </span>
      ) : undefined}>
        <ErrorBox error={current.error} />
        {current.data === null && !current.loading && !current.error && (
          <p>No semantic layer yet.{editor ? " Draft one from the catalog (profile datasets first to find their yes/no columns)." : ""}</p>
        )}
        {version && (
          <p role="status" aria-label="Current version">
            Version {version.version}: <strong>{version.status}</strong> ({version.source === "draft" ? "drafted automatically" : "edited"} by {version.created_by}, {when(version.created_at)})
            {version.in_use ? "; in use by the prompts." : "; not in use yet."}
          </p>
        )}
        {!editor && <p className="muted">Editors draft, edit and confirm the layer.</p>}
        <ErrorBox error={error} />
        {where(error) && <p className="error">At {where(error)}.</p>}
      </Section>
      {doc && (
        <>
          <Datasets doc={doc} change={change} editor={editor} />
          <Measures doc={doc} change={change} editor={editor} />
          <Relationships doc={doc} change={change} editor={editor} />
          <Queries doc={doc} change={change} editor={editor} />
          {editor && (
            <div className="inline">
              <button disabled={busy} onClick={() => act(async () => {
                await api("PUT", "semantic-layer", { ...doc, based_on: basedOn });
                reload();
              })}>Save as a new version</button>
              {version && <button disabled={busy} onClick={() => { setDoc(structuredClone(version.layer)); setBasedOn(version.version); }}>Discard changes</button>}
            </div>
          )}
        </>
      )}
      <Section title="Versions">
        <ErrorBox error={versions.error} />
        <table>
          <thead><tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Made</th><th scope="col">By</th><th scope="col">Confirmed</th><th scope="col"><span className="sr-only">Edit from</span></th></tr></thead>
          <tbody>
            {versions.data?.items.map((v) => (
              <tr key={v.version}>
                <td>{v.version}{v.in_use ? " (in use)" : ""}</td>
                <td>{v.status}</td>
                <td>{v.source === "draft" ? "draft" : "edit"}, {when(v.created_at)}</td>
                <td>{v.created_by}</td>
                <td>{v.confirmed_by ? `${v.confirmed_by}, ${when(v.confirmed_at)}` : ""}</td>
                <td>{editor && <button aria-label={`Edit from version ${v.version}`} onClick={() => {
                  setDoc(structuredClone(v.layer));
                  setBasedOn(version?.version ?? null);
                }}>Edit from it</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

interface Part {
  doc: Layer;
  change: (fn: (d: Layer) => void) => void;
  editor: boolean;
}

function Datasets({ doc, change, editor }: Part) {
  return (
    <Section title="Datasets and columns">
      {doc.datasets.length === 0 && <p>No dataset is described.</p>}
      {doc.datasets.map((d, i) => (
        <details key={d.name}>
          <summary>{d.name}{d.business_name && d.business_name !== d.name ? ` — ${d.business_name}` : ""}</summary>
          <div className="inline wrap">
            <label>Business name<input value={d.business_name} disabled={!editor}
              onChange={(e) => change((x) => { x.datasets[i].business_name = e.target.value; })} /></label>
            <label>Synonyms<input value={joined(d.synonyms)} disabled={!editor}
              onChange={(e) => change((x) => { x.datasets[i].synonyms = words(e.target.value); })} /></label>
          </div>
          <table>
            <thead><tr><th scope="col">Column</th><th scope="col">Business name</th><th scope="col">Synonyms</th><th scope="col">Role</th><th scope="col">True / false values</th></tr></thead>
            <tbody>
              {d.columns.map((c, j) => {
                const set = (fn: (col: LayerColumn) => void) => change((x) => fn(x.datasets[i].columns[j]));
                return (
                  <tr key={c.name}>
                    <td>{c.name}</td>
                    <td><input aria-label={`Business name of ${d.name}.${c.name}`} value={c.business_name} disabled={!editor}
                      onChange={(e) => set((col) => { col.business_name = e.target.value; })} /></td>
                    <td><input aria-label={`Synonyms of ${d.name}.${c.name}`} value={joined(c.synonyms)} disabled={!editor}
                      onChange={(e) => set((col) => { col.synonyms = words(e.target.value); })} /></td>
                    <td><select aria-label={`Role of ${d.name}.${c.name}`} value={c.role} disabled={!editor}
                      onChange={(e) => set((col) => {
                        col.role = e.target.value;
                        if (col.role !== "boolean") { col.true_values = []; col.false_values = []; }
                      })}>
                      {ROLES.map((r) => <option key={r} value={r}>{r.replace("_", " ")}</option>)}
                    </select></td>
                    <td>{c.role === "boolean" && (
                      <span className="inline">
                        <input aria-label={`True values of ${d.name}.${c.name}`} size={6} value={joined(c.true_values)} disabled={!editor}
                          onChange={(e) => set((col) => { col.true_values = words(e.target.value); })} />
                        <input aria-label={`False values of ${d.name}.${c.name}`} size={6} value={joined(c.false_values)} disabled={!editor}
                          onChange={(e) => set((col) => { col.false_values = words(e.target.value); })} />
                      </span>
                    )}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </details>
      ))}
    </Section>
  );
}

function Measures({ doc, change, editor }: Part) {
  const [draft, setDraft] = useState<Measure>({ ...NEW_MEASURE, dataset: doc.datasets[0]?.name ?? "" });
  return (
    <Section title="Measures">
      <p className="muted small">An expression over one dataset's columns, one value per row, and how it adds up: <code>revenue = sum(unitPrice * quantity * (1 - discount))</code>.</p>
      <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Synonyms</th><th scope="col">Dataset</th><th scope="col">Aggregation</th><th scope="col">Expression</th><th scope="col"><span className="sr-only">Remove</span></th></tr></thead>
        <tbody>
          {doc.measures.map((m, i) => (
            <tr key={`${m.name}-${i}`}>
              <td>{m.name}</td>
              <td><input aria-label={`Synonyms of measure ${m.name}`} value={joined(m.synonyms)} disabled={!editor}
                onChange={(e) => change((x) => { x.measures[i].synonyms = words(e.target.value); })} /></td>
              <td>{m.dataset}</td>
              <td><select aria-label={`Aggregation of measure ${m.name}`} value={m.aggregation} disabled={!editor}
                onChange={(e) => change((x) => { x.measures[i].aggregation = e.target.value; })}>
                {AGGREGATIONS.map((a) => <option key={a} value={a}>{a}</option>)}
              </select></td>
              <td><input aria-label={`Expression of measure ${m.name}`} value={m.expression} disabled={!editor}
                onChange={(e) => change((x) => { x.measures[i].expression = e.target.value; })} /></td>
              <td>{editor && <button className="small" aria-label={`Remove measure ${m.name}`}
                onClick={() => change((x) => { x.measures.splice(i, 1); })}>×</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {editor && (
        <form className="inline wrap" aria-label="Add a measure" onSubmit={(e) => {
          e.preventDefault();
          change((x) => { x.measures.push({ ...draft, dataset: draft.dataset || x.datasets[0]?.name || "" }); });
          setDraft({ ...NEW_MEASURE, dataset: draft.dataset });
        }}>
          <label>Name<input required pattern="[A-Za-z_][A-Za-z0-9_]*" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} /></label>
          <label>Dataset<select aria-label="Dataset" value={draft.dataset} onChange={(e) => setDraft({ ...draft, dataset: e.target.value })}>
            {doc.datasets.map((d) => <option key={d.name} value={d.name}>{d.name}</option>)}
          </select></label>
          <label>Expression<input required value={draft.expression} onChange={(e) => setDraft({ ...draft, expression: e.target.value })} /></label>
          <label>Aggregation<select aria-label="Aggregation" value={draft.aggregation} onChange={(e) => setDraft({ ...draft, aggregation: e.target.value })}>
            {AGGREGATIONS.map((a) => <option key={a} value={a}>{a}</option>)}
          </select></label>
          <label>Synonyms<input value={joined(draft.synonyms)} onChange={(e) => setDraft({ ...draft, synonyms: words(e.target.value) })} /></label>
          <button type="submit">Add measure</button>
        </form>
      )}
    </Section>
  );
}

function Relationships({ doc, change, editor }: Part) {
  const [text, setText] = useState("");
  return (
    <Section title="Relationships">
      <ul>
        {doc.relationships.map((r, i) => (
          <li key={`${r.from_dataset}.${r.from_column}-${r.to_dataset}.${r.to_column}`}>
            {r.from_dataset}.{r.from_column} → {r.to_dataset}.{r.to_column}{" "}
            {editor && <button className="small" aria-label={`Remove relationship ${r.from_dataset}.${r.from_column}`}
              onClick={() => change((x) => { x.relationships.splice(i, 1); })}>×</button>}
          </li>
        ))}
      </ul>
      {editor && (
        <form className="inline" aria-label="Add a relationship" onSubmit={(e) => {
          e.preventDefault();
          const [from, to] = text.split(/\s*(?:->|→|=)\s*/);
          const [fd, fc] = (from ?? "").split(".");
          const [td, tc] = (to ?? "").split(".");
          if (fd && fc && td && tc) {
            change((x) => { x.relationships.push({ from_dataset: fd, from_column: fc, to_dataset: td, to_column: tc }); });
            setText("");
          }
        }}>
          <label>Join key<input placeholder="order_details.productID -> products.productID" value={text} onChange={(e) => setText(e.target.value)} /></label>
          <button type="submit">Add relationship</button>
        </form>
      )}
    </Section>
  );
}

function Queries({ doc, change, editor }: Part) {
  const [question, setQuestion] = useState("");
  const [sql, setSql] = useState("");
  return (
    <Section title="Verified queries">
      <p className="muted small">Questions answered correctly, with their SQL: the model is shown them as examples.</p>
      {doc.verified_queries.map((q, i) => (
        <div key={`${q.question}-${i}`} className="card">
          <p><strong>{q.question}</strong>{" "}
            {editor && <button className="small" aria-label={`Remove verified query ${q.question}`}
              onClick={() => change((x) => { x.verified_queries.splice(i, 1); })}>×</button>}</p>
          <pre>{q.sql}</pre>
        </div>
      ))}
      {editor && (
        <form aria-label="Add a verified query" onSubmit={(e) => {
          e.preventDefault();
          change((x) => { x.verified_queries.push({ question, sql }); });
          setQuestion("");
          setSql("");
        }}>
          <label>Question<input required value={question} onChange={(e) => setQuestion(e.target.value)} /></label>
          <label>SQL<textarea required rows={3} value={sql} onChange={(e) => setSql(e.target.value)} /></label>
          <button type="submit">Add verified query</button>
        </form>
      )}
    </Section>
  );
}
