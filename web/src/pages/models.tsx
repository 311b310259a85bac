// Model Studio: the models, training one from a dataset (target and features) as a `train`
// job, a model's versions with their held-out metrics and aliases, deployment, and a predict
// form that shows each score's feature contributions.
import { useEffect, useState, type FormEvent } from "react";
import { get, post, type DatasetSummary, type DatasetView, type Page } from "../api";
import { onNotification } from "../live";
import { DataTable, ErrorBox, fmt, Progress, Section, SignedBarChart, useAction, useLoad, when } from "../ui";

export interface FeatureSpec {
  column: string;
  encoding: string;
}

export interface ModelVersion {
  model_id: string;
  name: string;
  version: number;
  task: "classification" | "regression";
  target: string;
  features: FeatureSpec[];
  dataset_id: string;
  dataset_version: number;
  metrics: Record<string, unknown>;
  params: Record<string, unknown>;
  aliases: string[];
  deployed: boolean;
  created_at: string;
}

export interface ModelSummary {
  id: string;
  name: string;
  task: string;
  target: string;
  created_by: string;
  created_at: string;
  latest_version: number | null;
  champion: number | null;
}

interface ModelDetail extends ModelSummary {
  versions: ModelVersion[];
  aliases: Record<string, number>;
}

interface Contribution {
  feature: string;
  value: unknown;
  contribution: number;
}

interface Prediction {
  score: number;
  label: unknown;
  contributions: Contribution[];
  version: number;
}

const METRICS = ["accuracy", "roc_auc", "log_loss", "rmse", "mae", "r2"];

export function ModelsPage() {
  const list = useLoad(() => get<Page<ModelSummary>>("models?limit=100"), []);
  return (
    <>
      <h1>Models</h1>
      <TrainForm onStarted={list.reload} />
      <Section title="All models">
        <ErrorBox error={list.error} />
        {list.data && list.data.items.length === 0 && <p>No models yet: train one above.</p>}
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Task</th><th scope="col">Target</th><th scope="col">Latest version</th><th scope="col">Champion</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {list.data?.items.map((m) => (
              <tr key={m.id}>
                <td><a href={`#/models/${m.id}`}>{m.name}</a></td>
                <td>{m.task}</td>
                <td>{m.target}</td>
                <td>{m.latest_version ?? "training…"}</td>
                <td>{m.champion ?? ""}</td>
                <td>{when(m.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

function encodingOf(type: string): string {
  return /int|float|double|decimal/.test(type) ? "numeric" : "one_hot";
}

function TrainForm({ onStarted }: { onStarted: () => void }) {
  const datasets = useLoad(() => get<Page<DatasetSummary>>("datasets?limit=100"), []);
  const [dataset, setDataset] = useState("");
  const chosen = dataset || datasets.data?.items[0]?.id || "";
  const detail = useLoad(() => (chosen ? get<DatasetView>(`datasets/${chosen}`) : Promise.resolve(null)), [chosen]);
  const columns = detail.data?.columns ?? [];
  const [name, setName] = useState("");
  const [target, setTarget] = useState("");
  const [task, setTask] = useState("classification");
  const [features, setFeatures] = useState<string[]>([]);
  const [started, setStarted] = useState<{ model_id: string; job_id: string; name: string } | null>(null);
  const [progress, setProgress] = useState<{ value: number; state: string }>({ value: 0, state: "queued" });
  const [error, act, busy] = useAction();
  const chosenTarget = target && columns.some((c) => c.name === target) ? target : "";
  useEffect(() => setFeatures([]), [chosen, chosenTarget]);
  useEffect(
    () =>
      onNotification((n) => {
        if (!started || String(n.data.job_id ?? "") !== started.job_id) return;
        if (n.event === "job.progress") setProgress((p) => ({ value: Math.max(p.value, Number(n.data.progress ?? 0)), state: "running" }));
        else if (n.event === "job.completed") { setProgress({ value: 100, state: "succeeded" }); onStarted(); }
        else if (n.event.startsWith("job.")) setProgress((p) => ({ ...p, state: n.event.slice(4) }));
      }),
    [started, onStarted],
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    act(async () => {
      const specs = columns.filter((c) => features.includes(c.name)).map((c) => ({ column: c.name, encoding: encodingOf(c.type) }));
      const body = { name, dataset: chosen, target: chosenTarget, task, ...(specs.length ? { features: specs } : {}) };
      setProgress({ value: 0, state: "queued" });
      setStarted(await post("models", body));
      onStarted();
    });
  }
  return (
    <Section title="Train a model">
      <form className="stack" aria-label="Train a model" onSubmit={submit}>
        <div className="inline wrap">
          <label>Model name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} /></label>
          <label>Dataset<select aria-label="Dataset" value={chosen} onChange={(e) => setDataset(e.target.value)} required>
            {datasets.data?.items.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
          </select></label>
          <label>Target<select aria-label="Target" value={chosenTarget} onChange={(e) => setTarget(e.target.value)} required>
            <option value="">Choose a column</option>
            {columns.map((c) => <option key={c.name} value={c.name}>{c.name} ({c.type})</option>)}
          </select></label>
          <label>Task<select aria-label="Task" value={task} onChange={(e) => setTask(e.target.value)}>
            <option value="classification">classification (two labels)</option>
            <option value="regression">regression</option>
          </select></label>
        </div>
        <fieldset className="inline wrap">
          <legend>Features (none chosen: inferred from every other column)</legend>
          {columns.filter((c) => c.name !== chosenTarget).map((c) => (
            <label key={c.name} className="inline"><input type="checkbox" checked={features.includes(c.name)}
              onChange={(e) => setFeatures(e.target.checked ? [...features, c.name] : features.filter((f) => f !== c.name))} />{c.name}</label>
          ))}
        </fieldset>
        <button type="submit" disabled={busy || !chosen}>Train</button>
      </form>
      <ErrorBox error={error} />
      {started && (
        <div role="status" aria-label="Training">
          <p>Training <a href={`#/models/${started.model_id}`}>{started.name}</a> as <a href={`#/jobs/${started.job_id}`}>job {started.job_id.slice(0, 8)}</a>: <span className={`state ${progress.state}`}>{progress.state}</span></p>
          <Progress value={progress.value} label={`Training of ${started.name}`} />
        </div>
      )}
    </Section>
  );
}

export function ModelPage({ id }: { id: string }) {
  const model = useLoad(() => get<ModelDetail>(`models/${id}`), [id]);
  const [error, act] = useAction();
  useEffect(() => onNotification((n) => { if (n.event === "model.trained" && n.data.model_id === id) model.reload(); }), [id]);
  if (model.error) return <ErrorBox error={model.error} />;
  if (!model.data) return <p aria-busy="true">Loading…</p>;
  const m = model.data;
  const metricNames = METRICS.filter((k) => m.versions.some((v) => typeof v.metrics[k] === "number"));
  return (
    <>
      <h1>Model {m.name}</h1>
      <p className="muted">{m.task} of <strong>{m.target}</strong> · created {when(m.created_at)} by {m.created_by} · <a href={`#/monitoring/${m.id}`}>Monitoring</a></p>
      <Section title="Versions">
        <ErrorBox error={error} />
        {m.versions.length === 0 && <p aria-busy="true">The first version is training.</p>}
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th><th scope="col">Aliases</th>
              {metricNames.map((k) => <th key={k} scope="col">{k}</th>)}
              <th scope="col">Model</th><th scope="col">Features</th><th scope="col">Deployed</th>
            </tr>
          </thead>
          <tbody>
            {m.versions.map((v) => (
              <tr key={v.version}>
                <td>{v.version}</td>
                <td>{v.aliases.map((a) => <span key={a} className="pill good">{a}</span>)}</td>
                {metricNames.map((k) => <td key={k}>{fmt(v.metrics[k])}</td>)}
                <td><small>{Object.entries(v.params).filter(([, x]) => typeof x !== "object").map(([k, x]) => `${k}=${fmt(x)}`).join(", ")}</small></td>
                <td><small>{v.features.map((f) => `${f.column} (${f.encoding})`).join(", ")}</small></td>
                <td>{v.deployed ? "yes" : (
                  <button aria-label={`Deploy version ${v.version}`} onClick={() => act(async () => { await post(`models/${id}/deploy`, { version: v.version }); model.reload(); })}>Deploy</button>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {m.versions.length > 0 && <PredictForm model={m} />}
    </>
  );
}

function PredictForm({ model }: { model: ModelDetail }) {
  const deployed = model.versions.filter((v) => v.deployed);
  const [version, setVersion] = useState("");
  const shown = model.versions.find((v) => String(v.version) === version) ?? deployed[0] ?? model.versions[0];
  const example = Object.fromEntries(shown.features.map((f) => [f.column, f.encoding === "numeric" ? 0 : ""]));
  const [rows, setRows] = useState(JSON.stringify([example], null, 1));
  const [predictions, setPredictions] = useState<Prediction[] | null>(null);
  const [error, act, busy] = useAction();
  return (
    <Section title="Predict">
      {deployed.length === 0 && <p className="muted">Deploy a version to score rows with it.</p>}
      <form className="stack" aria-label="Predict" onSubmit={(e) => {
        e.preventDefault();
        act(async () => {
          const body = { rows: JSON.parse(rows), explain: true, ...(version ? { version: Number(version) } : {}) };
          setPredictions((await post<{ predictions: Prediction[] }>(`models/${model.id}/predict`, body)).predictions);
        });
      }}>
        <label>Version<select aria-label="Version" value={version} onChange={(e) => setVersion(e.target.value)}>
          <option value="">champion</option>
          {deployed.map((v) => <option key={v.version} value={v.version}>{v.version}</option>)}
        </select></label>
        <label>Rows (JSON: a list of objects with the input columns)<textarea aria-label="Rows (JSON)" rows={4} value={rows} onChange={(e) => setRows(e.target.value)} /></label>
        <button type="submit" disabled={busy}>Predict</button>
      </form>
      <ErrorBox error={error} />
      {predictions && (
        <>
          <DataTable label="Predictions" columns={["row", "score", "label", "version"]}
            rows={predictions.map((p, i) => ({ row: i + 1, score: p.score, label: p.label, version: p.version }))} />
          {predictions.slice(0, 5).map((p, i) => (
            <SignedBarChart key={i} label={`Contributions to the score of row ${i + 1}`}
              bars={p.contributions.map((c) => ({ label: c.feature.includes("=") || c.value === null || c.value === undefined ? c.feature : `${c.feature}=${fmt(c.value)}`, value: c.contribution }))} />
          ))}
        </>
      )}
    </Section>
  );
}
