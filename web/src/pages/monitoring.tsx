// Model Monitoring: check a model against a dataset, its runs over time (multivariate drift
// score and drifted features per run), and one run's per-feature drift scores (PSI, with the
// threshold) with the drifted features named and the performance next to training.
import { useState } from "react";
import { get, post, type DatasetSummary, type Page } from "../api";
import { DataTable, ErrorBox, fmt, LineChart, Section, SignedBarChart, useAction, useLoad, when } from "../ui";
import type { ModelSummary } from "./models";

interface FeatureDrift {
  name: string;
  kind: string;
  psi: number;
  statistic: number;
  p_value: number;
  drifted: boolean;
  reference_nulls: number;
  current_nulls: number;
}

interface Report {
  id: string;
  model_id: string;
  model_version: number;
  dataset_id: string;
  dataset_version: number;
  reference_dataset_id: string;
  reference_version: number;
  drift: {
    features: FeatureDrift[];
    drifted_features: string[];
    multivariate_score: number;
    multivariate_p_value: number;
    multivariate_drifted: boolean;
    drifted: boolean;
    test_level: number;
    reference_rows: number;
    current_rows: number;
    skipped: string[];
    thresholds: { psi_min: number; auc_min: number; alpha: number };
  };
  performance: {
    task: string;
    rows: number;
    metrics: Record<string, number>;
    training_metrics: Record<string, number>;
    changes: Record<string, number>;
    degraded: boolean;
    degraded_metrics: string[];
  } | null;
  performance_note: string | null;
  alerted: boolean;
  created_by: string;
  created_at: string;
}

export function MonitoringPage({ id }: { id: string | undefined }) {
  const models = useLoad(() => get<Page<ModelSummary>>("models?limit=100"), []);
  const chosen = id || models.data?.items[0]?.id || "";
  return (
    <>
      <h1>Monitoring</h1>
      <Section title="Model">
        <ErrorBox error={models.error} />
        {models.data && models.data.items.length === 0 && <p>No models yet: train one in <a href="#/models">Models</a>.</p>}
        <label>Model<select aria-label="Model" value={chosen} onChange={(e) => { location.hash = `#/monitoring/${e.target.value}`; }}>
          {models.data?.items.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
        </select></label>
      </Section>
      {chosen && <ModelMonitoring key={chosen} id={chosen} />}
    </>
  );
}

function ModelMonitoring({ id }: { id: string }) {
  const history = useLoad(() => get<Page<Report>>(`models/${id}/monitoring?limit=50`), [id]);
  const datasets = useLoad(() => get<Page<DatasetSummary>>("datasets?limit=100"), []);
  const [dataset, setDataset] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [error, act, busy] = useAction();
  const runs = history.data?.items ?? [];
  const run = runs.find((r) => r.id === selected) ?? runs[0];
  const ordered = [...runs].reverse();
  const chosenDataset = dataset || datasets.data?.items[0]?.id || "";
  return (
    <>
      <Section title="Check against a dataset">
        <form className="inline wrap" aria-label="Check against a dataset" onSubmit={(e) => {
          e.preventDefault();
          act(async () => {
            const report = await post<Report>(`models/${id}/monitoring`, { dataset_id: chosenDataset });
            setSelected(report.id);
            history.reload();
          });
        }}>
          <label>Dataset<select aria-label="Dataset" value={chosenDataset} onChange={(e) => setDataset(e.target.value)}>
            {datasets.data?.items.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
          </select></label>
          <button type="submit" disabled={busy || !chosenDataset}>Run check</button>
        </form>
        <ErrorBox error={error} />
      </Section>
      <Section title="Runs">
        <ErrorBox error={history.error} />
        {history.data && runs.length === 0 && <p>No monitoring runs yet.</p>}
        {ordered.length > 0 && (
          <LineChart label="Drift over runs" xLabels={ordered.map((r) => when(r.created_at))} min={0}
            series={[
              { name: "multivariate score (AUC)", points: ordered.map((r) => r.drift.multivariate_score) },
              { name: "drifted features", points: ordered.map((r) => r.drift.drifted_features.length) },
            ]} />
        )}
        <table>
          <thead><tr><th scope="col">When</th><th scope="col">Model version</th><th scope="col">Rows</th><th scope="col">Drift</th><th scope="col">Performance</th><th scope="col"><span className="sr-only">Open</span></th></tr></thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} aria-selected={r.id === run?.id}>
                <td>{when(r.created_at)}</td>
                <td>{r.model_version}</td>
                <td>{r.drift.current_rows}</td>
                <td>{r.drift.drifted ? <span className="pill bad">drifted</span> : <span className="pill good">stable</span>}</td>
                <td>{r.performance ? (r.performance.degraded ? <span className="pill bad">degraded</span> : <span className="pill good">holds</span>) : "—"}</td>
                <td><button className="link" aria-label={`Show the run of ${when(r.created_at)}`} onClick={() => setSelected(r.id)}>Show</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {run && <RunReport run={run} />}
    </>
  );
}

function RunReport({ run }: { run: Report }) {
  const d = run.drift;
  const perf = run.performance;
  return (
    <Section title="Run report">
      <p role="status" aria-label="Drifted features">
        {d.drifted_features.length
          ? <>Drifted features: <strong>{d.drifted_features.join(", ")}</strong></>
          : "No feature drifted."}
        {d.multivariate_drifted && " The rows as a whole drifted (multivariate)."}
      </p>
      <dl className="facts">
        <dt>Compared</dt><dd>{d.current_rows} rows with {d.reference_rows} training rows</dd>
        <dt>Multivariate score</dt><dd>{fmt(d.multivariate_score)} (p {fmt(d.multivariate_p_value)}; alarm from {fmt(d.thresholds.auc_min)})</dd>
        <dt>Per-test level</dt><dd>{fmt(d.test_level)}</dd>
        {d.skipped.length > 0 && <><dt>Not monitored</dt><dd>{d.skipped.join(", ")}</dd></>}
      </dl>
      <SignedBarChart label="Drift score (PSI) by feature" threshold={{ value: d.thresholds.psi_min, label: "PSI floor" }}
        bars={d.features.map((f) => ({ label: f.name, value: f.psi, flagged: f.drifted }))} />
      <DataTable label="Drift by feature" columns={["feature", "kind", "psi", "statistic", "p_value", "drifted", "nulls (training)", "nulls (now)"]}
        rows={d.features.map((f) => ({ feature: f.name, kind: f.kind, psi: f.psi, statistic: f.statistic, p_value: f.p_value, drifted: f.drifted ? "yes" : "no", "nulls (training)": f.reference_nulls, "nulls (now)": f.current_nulls }))} />
      <h3>Performance</h3>
      {perf ? (
        <>
          <p>{perf.rows} labelled rows · {perf.degraded ? <strong className="error">degraded: {perf.degraded_metrics.join(", ")}</strong> : "holds up"}</p>
          <SignedBarChart label="Metric change since training (now minus training)"
            bars={Object.entries(perf.changes).map(([k, v]) => ({ label: k, value: v, flagged: perf.degraded_metrics.includes(k) }))} />
          <DataTable label="Metrics now and at training" columns={["metric", "now", "training"]}
            rows={Object.keys(perf.metrics).map((k) => ({ metric: k, now: perf.metrics[k], training: perf.training_metrics[k] }))} />
        </>
      ) : <p className="muted">{run.performance_note ?? "No performance for this run."}</p>}
    </Section>
  );
}
