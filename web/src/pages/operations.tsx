// Operations: for platform operators, health, the cluster's nodes and resources, Serve's
// deployments with their target and running replicas; for the workspace's editors, retrying
// its failed or cancelled jobs.
import { get, post, type Job, type Page } from "../api";
import { BarChart, DataTable, ErrorBox, fmt, Section, useAction, useLoad, when } from "../ui";

interface StateSummary {
  total: number;
  by_state: Record<string, number>;
}

interface ClusterView {
  nodes: { node_id: string; address: string; alive: boolean; is_head: boolean | null; resources_total: Record<string, number> }[];
  resources: { total: Record<string, number>; available: Record<string, number> };
  actors: StateSummary | null;
  tasks: StateSummary | null;
  notes: string[];
  read_at: string;
}

interface DeploymentsView {
  serve_running: boolean;
  applications: {
    name: string;
    status: string;
    route_prefix: string | null;
    deployments: { name: string; status: string; message: string; target_replicas: number; running_replicas: number; replica_states: Record<string, number>; min_replicas: number | null; max_replicas: number | null }[];
  }[];
  note: string | null;
  read_at: string;
}

interface HealthSummary {
  status: "ok" | "degraded";
  problems: string[];
  dependencies: { ready: boolean; dependencies: Record<string, { ok: boolean; latency_ms: number | null; error: string | null }> };
  cluster: { nodes_alive: number; nodes_dead: number; cpu_total: number; cpu_available: number };
  serve: { running: boolean; applications: number; unhealthy: string[] };
  jobs: Record<string, number>;
}

const EDITOR = ["editor", "admin", "owner"];
// Resources worth a bar (Ray also counts per-node markers such as `node:127.0.0.1`).
const RESOURCES = /^(CPU|GPU|memory|object_store_memory)$/;

export function OperationsPage({ operator, role }: { operator: boolean | undefined; role: string | undefined }) {
  const editor = role !== undefined && EDITOR.includes(role);
  return (
    <>
      <h1>Operations</h1>
      {operator ? (
        <>
          <Health />
          <Cluster />
          <Deployments />
        </>
      ) : (
        <p>The cluster's health, nodes and deployments are for platform operators.</p>
      )}
      {editor && <Retry />}
    </>
  );
}

function Health() {
  const health = useLoad(() => get<HealthSummary>("operations/health"), []);
  const h = health.data;
  return (
    <Section title="Health" actions={<button onClick={health.reload}>Refresh</button>}>
      <ErrorBox error={health.error} />
      {h && (
        <>
          <p role="status" aria-label="Platform health"><span className={`pill ${h.status === "ok" ? "good" : "bad"}`}>{h.status}</span> {h.problems.length ? h.problems.join("; ") : "no problem found"}</p>
          <DataTable label="Dependencies" columns={["dependency", "ok", "latency (ms)", "error"]}
            rows={Object.entries(h.dependencies.dependencies).map(([name, d]) => ({ dependency: name, ok: d.ok ? "yes" : "no", "latency (ms)": d.latency_ms, error: d.error ?? "" }))} />
          <p className="small">Nodes {h.cluster.nodes_alive} alive, {h.cluster.nodes_dead} dead · CPUs {fmt(h.cluster.cpu_available)} free of {fmt(h.cluster.cpu_total)} · Serve {h.serve.running ? `running ${h.serve.applications} applications` : "not running"} · this workspace's jobs: {Object.entries(h.jobs).map(([s, n]) => `${s} ${n}`).join(", ") || "none"}</p>
        </>
      )}
    </Section>
  );
}

function Cluster() {
  const cluster = useLoad(() => get<ClusterView>("operations/cluster"), []);
  const c = cluster.data;
  const used = c ? Object.keys(c.resources.total).filter((k) => RESOURCES.test(k)).map((k) => ({
    label: k, value: c.resources.total[k] ? (1 - (c.resources.available[k] ?? 0) / c.resources.total[k]) * 100 : 0,
  })) : [];
  return (
    <Section title="Cluster" actions={<button onClick={cluster.reload}>Refresh</button>}>
      <ErrorBox error={cluster.error} />
      {c && (
        <>
          <p className="small muted">Read {when(c.read_at)}{c.notes.length ? ` · ${c.notes.join("; ")}` : ""}</p>
          <DataTable label="Nodes" columns={["node", "address", "role", "alive", "CPU", "memory (GiB)"]}
            rows={c.nodes.map((n) => ({ node: n.node_id.slice(0, 12), address: n.address, role: n.is_head ? "head" : n.is_head === false ? "worker" : "", alive: n.alive ? "yes" : "no", CPU: n.resources_total.CPU ?? 0, "memory (GiB)": (n.resources_total.memory ?? 0) / 2 ** 30 }))} />
          <BarChart label="Resources in use" unit="%" bars={used} />
          <DataTable label="Resources" columns={["resource", "total", "available"]}
            rows={Object.keys(c.resources.total).filter((k) => RESOURCES.test(k)).map((k) => ({ resource: k, total: c.resources.total[k], available: c.resources.available[k] ?? 0 }))} />
          <p className="small">Actors: {c.actors ? `${c.actors.total} (${Object.entries(c.actors.by_state).map(([s, n]) => `${s} ${n}`).join(", ")})` : "not read"} · Tasks: {c.tasks ? `${c.tasks.total} (${Object.entries(c.tasks.by_state).map(([s, n]) => `${s} ${n}`).join(", ")})` : "not read"}</p>
        </>
      )}
    </Section>
  );
}

function Deployments() {
  const deployments = useLoad(() => get<DeploymentsView>("operations/deployments"), []);
  const d = deployments.data;
  const rows = d ? d.applications.flatMap((a) => a.deployments.map((x) => ({
    application: a.name, deployment: x.name, status: x.status, target: x.target_replicas, running: x.running_replicas,
    bounds: x.min_replicas !== null ? `${x.min_replicas}–${x.max_replicas}` : "fixed", message: x.message,
  }))) : [];
  return (
    <Section title="Deployments" actions={<button onClick={deployments.reload}>Refresh</button>}>
      <ErrorBox error={deployments.error} />
      {d && (
        <>
          <p role="status" aria-label="Serve">{d.serve_running ? `Serve is running ${d.applications.length} applications.${d.note ? ` ${d.note}` : ""}` : d.note ?? "Serve is not running here."}</p>
          {rows.length > 0 && <DataTable label="Deployments and replicas" columns={["application", "deployment", "status", "target", "running", "bounds", "message"]} rows={rows} />}
        </>
      )}
    </Section>
  );
}

function Retry() {
  const failed = useLoad(() => get<Page<Job>>("jobs?state=failed&limit=20"), []);
  const cancelled = useLoad(() => get<Page<Job>>("jobs?state=cancelled&limit=20"), []);
  const [error, act] = useAction();
  const jobs = [...(failed.data?.items ?? []), ...(cancelled.data?.items ?? [])];
  return (
    <Section title="Failed and cancelled jobs">
      <ErrorBox error={failed.error ?? cancelled.error} />
      <ErrorBox error={error} />
      {failed.data && cancelled.data && jobs.length === 0 && <p>No failed or cancelled job.</p>}
      <ul className="jobs" aria-label="Jobs to retry">
        {jobs.map((j) => (
          <li key={j.id}>
            <a href={`#/jobs/${j.id}`}>{j.name ?? j.kind} · {j.id.slice(0, 8)}</a> <span className={`state ${j.state}`}>{j.state}</span> <small>{j.error?.message ?? j.message}</small>{" "}
            <button aria-label={`Retry job ${j.id.slice(0, 8)}`} onClick={() => act(async () => {
              const r = await post<{ job: { job_id: string } }>(`jobs/${j.id}/retry`);
              location.hash = `#/jobs/${r.job.job_id}`;
            })}>Retry</button>
          </li>
        ))}
      </ul>
    </Section>
  );
}
