// Jobs: start one (query, PageRank, similarity, or any kind by name), follow its progress live
// from the job.* events, and open its result as a table and a chart.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { get, post, type DatasetSummary, type Job, type Page, type ResultPage } from "../api";
import { onNotification } from "../live";
import { BarChart, DataTable, ErrorBox, fmt, Progress, Section, useLoad, when } from "../ui";

const EXAMPLES: Record<string, (dataset: string) => Record<string, unknown>> = {
  query: (dataset) => ({ dataset, limit: 100 }),
  pagerank: (dataset) => ({ dataset, src: "src", dst: "dst", damping: 0.85 }),
  similarity: (dataset) => ({ dataset, text: "text", k: 5 }),
};

/** Keeps jobs up to date from live events. */
function useLiveJobs(initial: Job[] | null): [Job[], (j: Job) => void] {
  const [jobs, setJobs] = useState<Job[]>([]);
  useEffect(() => setJobs(initial ?? []), [initial]);
  useEffect(
    () =>
      onNotification((n) => {
        if (!n.event.startsWith("job.")) return;
        const id = String(n.data.job_id ?? "");
        setJobs((xs) =>
          xs.map((j) => {
            if (j.id !== id) return j;
            if (n.event === "job.progress") return { ...j, state: "running", progress: Math.max(j.progress, Number(n.data.progress ?? 0)), message: String(n.data.message ?? "") };
            const state = n.event === "job.completed" ? "succeeded" : n.event.slice(4);
            return { ...j, state, progress: state === "succeeded" ? 100 : j.progress };
          }),
        );
      }),
    [],
  );
  return [jobs, (j: Job) => setJobs((xs) => [j, ...xs.filter((x) => x.id !== j.id)])];
}

export function JobsPage() {
  const list = useLoad(() => get<Page<Job>>("jobs?limit=50"), []);
  const datasets = useLoad(() => get<Page<DatasetSummary>>("datasets?limit=100"), []);
  const [jobs, add] = useLiveJobs(list.data?.items ?? null);
  const [kind, setKind] = useState("query");
  const [dataset, setDataset] = useState("");
  const [params, setParams] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const first = datasets.data?.items[0]?.id ?? "";
  const chosen = dataset || first;
  useEffect(() => {
    if (EXAMPLES[kind]) setParams(JSON.stringify(EXAMPLES[kind](chosen), null, 1));
  }, [kind, chosen]);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const body = { kind, params: JSON.parse(params || "{}"), ...(name ? { name } : {}) };
      const accepted = await post<Job & { job_id: string }>("jobs", body);
      add({ ...accepted, id: accepted.job_id });
    } catch (err) {
      setError(err instanceof SyntaxError ? new Error(`parameters are not JSON: ${err.message}`) : err);
    }
  }
  return (
    <>
      <h1>Jobs</h1>
      <Section title="Start a job">
        <form onSubmit={submit} className="stack" aria-label="Start a job">
          <div className="inline wrap">
            <label>Kind<input list="job-kinds" value={kind} onChange={(e) => setKind(e.target.value)} required /></label>
            <datalist id="job-kinds"><option value="query" /><option value="pagerank" /><option value="similarity" /></datalist>
            <label>Dataset<select aria-label="Dataset" value={chosen} onChange={(e) => setDataset(e.target.value)}>
              {datasets.data?.items.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
            </select></label>
            <label>Name<input value={name} onChange={(e) => setName(e.target.value)} placeholder="optional" /></label>
          </div>
          <label>Parameters (JSON)<textarea aria-label="Parameters (JSON)" rows={5} value={params} onChange={(e) => setParams(e.target.value)} /></label>
          <button type="submit">Start job</button>
        </form>
        <ErrorBox error={error} />
      </Section>
      <Section title="Recent jobs">
        <ErrorBox error={list.error} />
        <ul className="jobs" aria-label="Jobs">
          {jobs.map((j) => (
            <li key={j.id} data-state={j.state}>
              <a href={`#/jobs/${j.id}`}>{j.name ?? j.kind} · {j.id.slice(0, 8)}</a> <span className={`state ${j.state}`}>{j.state}</span>
              <Progress value={j.progress} label={`Progress of job ${j.name ?? j.kind}`} />
              <small>{j.message}</small>
            </li>
          ))}
        </ul>
      </Section>
    </>
  );
}

export function JobPage({ id }: { id: string }) {
  const loaded = useLoad(() => get<Job>(`jobs/${id}`), [id]);
  // One array per load: a new one each render would reset the live state on every render.
  const initial = useMemo(() => (loaded.data ? [loaded.data] : null), [loaded.data]);
  const [jobs] = useLiveJobs(initial);
  const job = jobs[0];
  const [result, setResult] = useState<ResultPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (job?.state === "succeeded" && !loaded.data?.result) loaded.reload();
  }, [job?.state]);
  async function open() {
    setError(null);
    try {
      setResult(await get<ResultPage>(`jobs/${id}/result?limit=200`));
    } catch (err) {
      setError(err);
    }
  }
  async function cancel() {
    try {
      await post(`jobs/${id}/cancel`);
      loaded.reload();
    } catch (err) {
      setError(err);
    }
  }
  if (loaded.error) return <ErrorBox error={loaded.error} />;
  if (!job) return <p aria-busy="true">Loading…</p>;
  const chart = result ? chartOf(result) : null;
  return (
    <>
      <h1>Job {job.name ?? job.kind}</h1>
      <Section title="Progress">
        <p><span className={`state ${job.state}`} role="status">{job.state}</span> {job.message}</p>
        <Progress value={job.progress} label="Job progress" />
        {job.error && <p className="error" role="alert">{job.error.message} ({job.error.code})</p>}
        <p className="small muted">{job.kind} · started {when(job.created_at)} · {fmt(job.compute_seconds)} compute seconds</p>
        <div className="inline">
          {(job.state === "queued" || job.state === "running") && <button onClick={cancel}>Cancel</button>}
          {job.state === "succeeded" && <button onClick={open}>Open result</button>}
          {loaded.data?.result && <a href={`#/datasets/${loaded.data.result.dataset_id}`}>Result dataset</a>}
        </div>
        <ErrorBox error={error} />
      </Section>
      {result && (
        <Section title="Result">
          <p className="muted">{result.row_count} rows</p>
          {chart && <BarChart label={chart.label} bars={chart.bars} />}
          <DataTable label="Result rows" columns={result.columns} rows={result.rows} />
        </Section>
      )}
    </>
  );
}

/** A bar chart when the result has a label column and a numeric one, and few rows. */
function chartOf(r: ResultPage): { label: string; bars: { label: string; value: number }[] } | null {
  if (r.rows.length === 0 || r.rows.length > 30) return null;
  const numeric = r.columns.filter((c) => /int|float|double|decimal/.test(c.type));
  const value = numeric[numeric.length - 1];
  const label = r.columns.find((c) => c !== value);
  if (!value || !label) return null;
  return {
    label: `${value.name} by ${label.name}`,
    bars: r.rows.map((row) => ({ label: fmt(row[label.name]), value: Number(row[value.name] ?? 0) })),
  };
}
