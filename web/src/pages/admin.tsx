// Data sources, policies, the audit log, billing, and the workspace (members, API keys).
import { useState, type FormEvent } from "react";
import { del, get, patch, post, put, type DatasetSummary, type Me, type Page, type Workspace } from "../api";
import { DataTable, ErrorBox, fmt, Section, useAction, useLoad, when } from "../ui";

interface Source {
  id: string;
  name: string;
  kind?: string;
  config: Record<string, unknown>;
  created_at: string;
}

export function DataSourcesPage() {
  const list = useLoad(() => get<Page<Source>>("data-sources?limit=100"), []);
  const [name, setName] = useState("");
  const [config, setConfig] = useState('{"kind": "http_csv", "url": "https://example.com/data.csv"}');
  const [schema, setSchema] = useState<{ name: string; columns: { name: string; type: string }[] } | null>(null);
  const [error, act] = useAction();
  return (
    <>
      <h1>Data sources</h1>
      <Section title="Add a data source">
        <form className="stack" aria-label="Add a data source"
          onSubmit={(e: FormEvent) => { e.preventDefault(); act(async () => { await post("data-sources", { name, config: JSON.parse(config) }); list.reload(); }); }}>
          <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required /></label>
          <label>Configuration (JSON: kind postgres, s3 or http_csv)<textarea aria-label="Configuration (JSON: kind postgres, s3 or http_csv)" rows={3} value={config} onChange={(e) => setConfig(e.target.value)} /></label>
          <button type="submit">Add</button>
        </form>
        <ErrorBox error={error} />
      </Section>
      <Section title="Data sources">
        <ErrorBox error={list.error} />
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Configuration</th><th scope="col">Added</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {list.data?.items.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td><code>{JSON.stringify(s.config)}</code></td>
                <td>{when(s.created_at)}</td>
                <td className="inline">
                  <button onClick={() => act(async () => { const r = await post<{ columns: { name: string; type: string }[] }>(`data-sources/${s.id}/discover-schema`); setSchema({ name: s.name, columns: r.columns }); })}>Discover schema</button>
                  <button onClick={() => act(async () => { await post("datasets", { name: s.name.replace(/[^A-Za-z0-9_-]+/g, "_"), data_source_id: s.id }); location.hash = "#/datasets"; })}>Import as dataset</button>
                  <button aria-label={`Delete data source ${s.name}`} onClick={() => act(async () => { await del(`data-sources/${s.id}`); list.reload(); })}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {schema && <DataTable label={`Schema of ${schema.name}`} columns={["name", "type"]} rows={schema.columns} />}
      </Section>
    </>
  );
}

interface Policy {
  id: string;
  name: string;
  dataset_id: string | null;
  roles: string[];
  priority: number;
  enabled: boolean;
  rule: Record<string, unknown>;
}

const RULE_EXAMPLES: Record<string, string> = {
  mask: '{"type": "mask", "columns": ["email"], "method": "redact"}',
  row_filter: '{"type": "row_filter", "filters": [{"column": "status", "op": "==", "value": "shipped"}]}',
  query_limit: '{"type": "query_limit", "max_rows": 1000}',
  access: '{"type": "access", "effect": "deny", "columns": ["email"]}',
};

export function PoliciesPage() {
  const list = useLoad(() => get<Page<Policy>>("policies?limit=100"), []);
  const datasets = useLoad(() => get<Page<DatasetSummary>>("datasets?limit=100"), []);
  const [name, setName] = useState("");
  const [dataset, setDataset] = useState("");
  const [roles, setRoles] = useState<string[]>(["viewer"]);
  const [rule, setRule] = useState(RULE_EXAMPLES.mask);
  const [error, act] = useAction();
  const names = Object.fromEntries((datasets.data?.items ?? []).map((d) => [d.id, d.name]));
  return (
    <>
      <h1>Policies</h1>
      <Section title="New policy">
        <form className="stack" aria-label="New policy" onSubmit={(e: FormEvent) => {
          e.preventDefault();
          act(async () => {
            await post("policies", { name, dataset_id: dataset || null, roles, rule: JSON.parse(rule) });
            list.reload();
          });
        }}>
          <div className="inline wrap">
            <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required /></label>
            <label>Dataset<select aria-label="Dataset" value={dataset} onChange={(e) => setDataset(e.target.value)}>
              <option value="">Every dataset</option>
              {datasets.data?.items.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
            </select></label>
            <fieldset className="inline"><legend>Roles</legend>
              {["viewer", "editor", "admin", "owner"].map((r) => (
                <label key={r} className="inline"><input type="checkbox" checked={roles.includes(r)}
                  onChange={(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))} />{r}</label>
              ))}
            </fieldset>
          </div>
          <label>Rule (JSON)<textarea aria-label="Rule (JSON)" rows={3} value={rule} onChange={(e) => setRule(e.target.value)} /></label>
          <div className="inline wrap">
            {Object.keys(RULE_EXAMPLES).map((k) => <button type="button" key={k} onClick={() => setRule(RULE_EXAMPLES[k])}>Example: {k}</button>)}
          </div>
          <button type="submit">Create policy</button>
        </form>
        <ErrorBox error={error} />
      </Section>
      <Section title="Policies">
        <ErrorBox error={list.error} />
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Dataset</th><th scope="col">Roles</th><th scope="col">Rule</th><th scope="col">Enabled</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.data?.items.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>{p.dataset_id ? names[p.dataset_id] ?? p.dataset_id.slice(0, 8) : "every dataset"}</td>
                <td>{p.roles.length ? p.roles.join(", ") : "every role"}</td>
                <td><code>{JSON.stringify(p.rule)}</code></td>
                <td>{p.enabled ? "yes" : "no"}</td>
                <td><button aria-label={`Delete policy ${p.name}`} onClick={() => act(async () => { await del(`policies/${p.id}`); list.reload(); })}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

interface AuditEntry {
  id: number;
  occurred_at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  status: number;
  outcome: string;
}

export function AuditPage() {
  const [before, setBefore] = useState<number[]>([]);
  const cursor = before[before.length - 1];
  const page = useLoad(() => get<{ items: AuditEntry[]; next_before: number | null }>(`audit?limit=50${cursor ? `&before=${cursor}` : ""}`), [cursor]);
  return (
    <>
      <h1>Audit log</h1>
      <Section title="Entries" actions={
        <div className="inline">
          <button disabled={before.length === 0} onClick={() => setBefore(before.slice(0, -1))}>Newer</button>
          <button disabled={!page.data?.next_before} onClick={() => page.data?.next_before && setBefore([...before, page.data.next_before])}>Older</button>
        </div>}>
        <ErrorBox error={page.error} />
        {page.data && (
          <DataTable label="Audit entries" columns={["occurred_at", "actor_type", "action", "status", "outcome"]}
            rows={page.data.items.map((e) => ({ ...e, occurred_at: when(e.occurred_at) }))} />
        )}
      </Section>
    </>
  );
}

export function BillingPage() {
  const plan = useLoad(() => get<{ name: string; currency: string; quotas: Record<string, unknown>; prices: Record<string, unknown> }>("billing/plan"), []);
  const usage = useLoad(() => get<{ period: string; metrics: { metric: string; used: string; included?: string; limit?: string }[] }>("billing/usage"), []);
  const invoices = useLoad(() => get<{ id: string; period: string; total: string; currency: string; lines: { description: string; amount?: string }[] }[]>("billing/invoices"), []);
  return (
    <>
      <h1>Billing</h1>
      <Section title="Plan">
        <ErrorBox error={plan.error} />
        {plan.data && (
          <>
            <p>Plan <strong>{plan.data.name}</strong> ({plan.data.currency})</p>
            <DataTable label="Quotas" columns={["quota", "value"]} rows={Object.entries(plan.data.quotas).map(([quota, value]) => ({ quota, value }))} />
          </>
        )}
      </Section>
      <Section title="Usage this month">
        <ErrorBox error={usage.error} />
        {usage.data && <DataTable label="Usage" columns={Object.keys(usage.data.metrics[0] ?? { metric: "", used: "" })} rows={usage.data.metrics as unknown as Record<string, unknown>[]} />}
      </Section>
      <Section title="Invoices">
        <ErrorBox error={invoices.error} />
        {invoices.data?.length === 0 && <p>No invoices yet.</p>}
        <ul>
          {invoices.data?.map((inv) => (
            <li key={inv.id}>{inv.period}: {fmt(inv.total)} {inv.currency} <small>({inv.lines.map((l) => l.description).join("; ")})</small></li>
          ))}
        </ul>
      </Section>
    </>
  );
}

interface Member {
  user_id: string;
  email: string;
  display_name: string;
  role: string;
  joined_at: string;
}

interface Invitation {
  id: string;
  workspace_id: string;
  workspace_name: string;
  role: string;
  invited_by: string;
  created_at: string;
}

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Invitations to you, each accepted or declined here (you join only once you accept). */
function Invitations({ onJoined }: { onJoined: () => void }) {
  const invitations = useLoad(() => get<Invitation[]>("invitations"), []);
  const [error, act] = useAction();
  const [joined, setJoined] = useState<string | null>(null);
  return (
    <Section title="Invitations to you">
      <ErrorBox error={invitations.error ?? error} />
      {joined && <p role="status">{joined}</p>}
      {invitations.data?.length === 0 && <p>No invitation waits for you.</p>}
      <ul aria-label="Pending invitations">
        {invitations.data?.map((i) => (
          <li key={i.id}>
            {i.invited_by} invites you to <strong>{i.workspace_name}</strong> as {i.role} ({when(i.created_at)}){" "}
            <button aria-label={`Accept the invitation to ${i.workspace_name}`} onClick={() => act(async () => {
              await post(`invitations/${i.id}/accept`);
              setJoined(`You joined ${i.workspace_name} as ${i.role}`);
              invitations.reload();
              onJoined();
            })}>Accept</button>{" "}
            <button aria-label={`Decline the invitation to ${i.workspace_name}`} onClick={() => act(async () => {
              await post(`invitations/${i.id}/decline`);
              invitations.reload();
            })}>Decline</button>
          </li>
        ))}
      </ul>
    </Section>
  );
}

export function WorkspacePage({ current, me, onCreated, onChanged, onLeft }: {
  current: Workspace | undefined;
  me: Me | null;
  onCreated: (id: string) => void;
  onChanged: () => void;
  onLeft: () => void;
}) {
  const admin = current?.role === "admin" || current?.role === "owner";
  const owner = current?.role === "owner";
  const keys = useLoad(() => (admin ? get<ApiKey[]>("api-keys") : Promise.resolve([])), [admin]);
  const members = useLoad(() => (current ? get<Page<Member>>(`workspaces/${current.id}/members?limit=200`) : Promise.resolve(null)), [current?.id]);
  const [wsName, setWsName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("viewer");
  const [keyName, setKeyName] = useState("");
  const [keyRole, setKeyRole] = useState("viewer");
  const [created, setCreated] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const [error, act] = useAction();
  const roles = ["viewer", "editor", "admin"];
  return (
    <>
      <h1>Workspace {current?.name ?? ""}</h1>
      <p className="muted">Your role: {current?.role}</p>
      <ErrorBox error={error} />
      <Section title="Members">
        <form className="inline wrap" aria-label="Add a member" onSubmit={(e: FormEvent) => {
          e.preventDefault();
          act(async () => {
            const r = await post<{ status: string; email: string; role: string }>(`workspaces/${current?.id}/members`, { email, role });
            setAdded(`${r.email} is invited as ${r.role}; they join once they accept`);
            setEmail("");
            members.reload();
          });
        }}>
          <label>Email<input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required /></label>
          <label>Role<select aria-label="Role" value={role} onChange={(e) => setRole(e.target.value)}>{roles.map((r) => <option key={r}>{r}</option>)}</select></label>
          <button type="submit">Add member</button>
        </form>
        {added && <p role="status">{added}</p>}
        <ErrorBox error={members.error} />
        {members.data && (
          <DataTable label="Members and roles" columns={["name", "email", "role", "joined"]}
            rows={members.data.items.map((m) => ({ name: m.display_name, email: m.email, role: m.role, joined: when(m.joined_at) }))} />
        )}
        {admin && members.data && (
          <ul aria-label="Manage members" className="jobs">
            {members.data.items.filter((m) => m.user_id !== me?.user_id && (owner || m.role !== "owner")).map((m) => (
              <li key={m.user_id}>
                {m.display_name} ({m.email}){" "}
                <select aria-label={`Role of ${m.email}`} value={m.role === "owner" ? "" : m.role} onChange={(e) => act(async () => {
                  await patch(`workspaces/${current?.id}/members/${m.user_id}`, { role: e.target.value });
                  members.reload();
                })}>
                  {m.role === "owner" && <option value="" disabled>owner</option>}
                  {roles.map((r) => <option key={r}>{r}</option>)}
                </select>{" "}
                <button aria-label={`Remove ${m.email}`} onClick={() => act(async () => {
                  await del(`workspaces/${current?.id}/members/${m.user_id}`);
                  members.reload();
                })}>Remove</button>
                {owner && m.role !== "owner" && (
                  <>{" "}<button aria-label={`Make ${m.email} the owner`} onClick={() => act(async () => {
                    await post(`workspaces/${current?.id}/transfer-ownership`, { user_id: m.user_id });
                    members.reload();
                    onChanged();
                  })}>Make owner</button></>
                )}
              </li>
            ))}
          </ul>
        )}
        {current && (
          <p>
            <button onClick={() => act(async () => {
              await post(`workspaces/${current.id}/leave`);
              onLeft();
            })}>Leave this workspace</button>{" "}
            {me?.default_workspace_id !== current.id && (
              <button onClick={() => act(async () => {
                await put("me/default-workspace", { workspace_id: current.id });
                onChanged();
              })}>Sign in here by default</button>
            )}
          </p>
        )}
      </Section>
      <Invitations onJoined={onChanged} />
      <Section title="API keys">
        <form className="inline wrap" aria-label="Create an API key" onSubmit={(e: FormEvent) => {
          e.preventDefault();
          act(async () => {
            const k = await post<{ key: string }>("api-keys", { name: keyName, role: keyRole });
            setCreated(k.key);
            setKeyName("");
            keys.reload();
          });
        }}>
          <label>Name<input value={keyName} onChange={(e) => setKeyName(e.target.value)} required /></label>
          <label>Role<select aria-label="Role" value={keyRole} onChange={(e) => setKeyRole(e.target.value)}>{roles.map((r) => <option key={r}>{r}</option>)}</select></label>
          <button type="submit">Create key</button>
        </form>
        {created && <p role="status">Your new key (shown once): <code>{created}</code></p>}
        <ErrorBox error={keys.error} />
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Role</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {keys.data?.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td><td><code>{k.prefix}</code></td><td>{k.role}</td><td>{when(k.last_used_at)}</td>
                <td>{k.revoked_at ? "revoked" : <button aria-label={`Revoke key ${k.name}`} onClick={() => act(async () => { await del(`api-keys/${k.id}`); keys.reload(); })}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="New workspace">
        <form className="inline" aria-label="Create a workspace" onSubmit={(e: FormEvent) => {
          e.preventDefault();
          act(async () => {
            const ws = await post<Workspace>("workspaces", { name: wsName });
            setWsName("");
            onCreated(ws.id);
          });
        }}>
          <label>Name<input value={wsName} onChange={(e) => setWsName(e.target.value)} required /></label>
          <button type="submit">Create workspace</button>
        </form>
      </Section>
    </>
  );
}
