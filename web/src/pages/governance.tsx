// Governance agent: scan a dataset for sensitive columns, the columns it tagged (and who sees
// them raw), and the masking policies it proposes, which admins approve or reject. Policies and
// the audit log have pages of their own.
import { useState } from "react";
import { get, post, type DatasetSummary, type Page } from "../api";
import { DataTable, ErrorBox, fmt, Section, useAction, useLoad, when } from "../ui";

interface ColumnTag {
  column: string;
  kind: string;
  matched: number;
  sampled: number;
  score: number;
  exposed_to: string[];
}

interface Proposal {
  id: string;
  dataset_id: string;
  column: string;
  kind: string;
  policy: { name: string; roles: string[]; rule: Record<string, unknown> };
  state: "pending" | "approved" | "rejected";
  policy_id: string | null;
  reason: string;
  decided_by: string | null;
  created_at: string;
  decided_at: string | null;
}

interface ScanReport {
  dataset_id: string;
  version: number;
  sampled_rows: number;
  columns: ColumnTag[];
  proposals: Proposal[];
  alerted: boolean;
}

const ADMIN = ["admin", "owner"];

export function GovernancePage({ role }: { role: string | undefined }) {
  const datasets = useLoad(() => get<Page<DatasetSummary>>("datasets?limit=100"), []);
  const [state, setState] = useState("pending");
  const proposals = useLoad(() => get<Page<Proposal>>(`governance/proposals?limit=100${state ? `&state=${state}` : ""}`), [state]);
  const [dataset, setDataset] = useState("");
  const [report, setReport] = useState<ScanReport | null>(null);
  const [error, act, busy] = useAction();
  const chosen = dataset || datasets.data?.items[0]?.id || "";
  const names = Object.fromEntries((datasets.data?.items ?? []).map((d) => [d.id, d.name]));
  const admin = ADMIN.includes(role ?? "");
  function decide(p: Proposal, verdict: "approve" | "reject") {
    act(async () => {
      await post(`governance/proposals/${p.id}/${verdict}`, {});
      proposals.reload();
    });
  }
  return (
    <>
      <h1>Governance</h1>
      <p className="muted">The approved proposals become <a href="#/policies">policies</a>; every request is in the <a href="#/audit">audit log</a>.</p>
      <Section title="Scan a dataset">
        <form className="inline wrap" aria-label="Scan a dataset" onSubmit={(e) => {
          e.preventDefault();
          act(async () => {
            setReport(await post<ScanReport>("governance/scan", { dataset_id: chosen }));
            proposals.reload();
          });
        }}>
          <label>Dataset<select aria-label="Dataset" value={chosen} onChange={(e) => setDataset(e.target.value)}>
            {datasets.data?.items.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
          </select></label>
          <button type="submit" disabled={busy || !chosen}>Scan</button>
        </form>
        <ErrorBox error={error} />
        {report && (
          <div role="status" aria-label="Scan result">
            <p>{report.sampled_rows} rows of version {report.version} sampled: {report.columns.length === 0 ? "no sensitive column found." : `${report.columns.length} sensitive column${report.columns.length > 1 ? "s" : ""} tagged, ${report.proposals.length} masking polic${report.proposals.length === 1 ? "y" : "ies"} proposed.`}</p>
            {report.columns.length > 0 && (
              <DataTable label="Tagged columns" columns={["column", "kind", "share", "seen raw by"]}
                rows={report.columns.map((c) => ({ column: c.column, kind: c.kind, share: `${fmt(c.score * 100)}% of ${c.sampled}`, "seen raw by": c.exposed_to.join(", ") || "nobody below admin" }))} />
            )}
          </div>
        )}
      </Section>
      <Section title="Proposals" actions={
        <label className="inline">Show<select aria-label="Show proposals" value={state} onChange={(e) => setState(e.target.value)}>
          <option value="pending">pending</option><option value="approved">approved</option><option value="rejected">rejected</option><option value="">all</option>
        </select></label>}>
        <ErrorBox error={proposals.error} />
        {!admin && <p className="muted">Admins approve or reject proposals.</p>}
        {proposals.data && proposals.data.items.length === 0 && <p>No {state} proposals.</p>}
        <table>
          <thead><tr><th scope="col">Dataset</th><th scope="col">Column</th><th scope="col">Kind</th><th scope="col">Proposed policy</th><th scope="col">State</th><th scope="col"><span className="sr-only">Decide</span></th></tr></thead>
          <tbody>
            {proposals.data?.items.map((p) => (
              <tr key={p.id}>
                <td>{names[p.dataset_id] ?? p.dataset_id.slice(0, 8)}</td>
                <td>{p.column}</td>
                <td>{p.kind}</td>
                <td><small>{p.policy.name}: {JSON.stringify(p.policy.rule)} for {p.policy.roles.join(", ") || "every role"}</small></td>
                <td>{p.state}{p.decided_at ? ` (${when(p.decided_at)})` : ""}</td>
                <td className="inline">
                  {p.state === "pending" && admin && <>
                    <button aria-label={`Approve masking ${p.column}`} onClick={() => decide(p, "approve")}>Approve</button>
                    <button aria-label={`Reject masking ${p.column}`} onClick={() => decide(p, "reject")}>Reject</button>
                  </>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}
