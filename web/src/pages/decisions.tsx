// Decision Intelligence: evaluate a case with a model and the guidelines, the outcome with its
// reasons (top contributions, rules applied) and the hard limits that overruled it, the kept
// decisions with their outcome counts (approvals, reviews, declines), and the guideline sets.
import { useState } from "react";
import { get, post, type Page } from "../api";
import { BarChart, ErrorBox, fmt, Section, SignedBarChart, useAction, useLoad, when } from "../ui";
import type { ModelSummary, ModelVersion } from "./models";

interface AppliedRule {
  name: string;
  condition: string;
  effect: string;
}

export interface DecisionView {
  id: string;
  model_id: string;
  model_version: number | null;
  scored_by: string;
  guideline_id: string | null;
  features: Record<string, unknown>;
  score: number;
  adjusted_score: number;
  outcome: string;
  rules_applied: AppliedRule[];
  limits_hit: AppliedRule[];
  explanation: {
    summary: string;
    top_contributions: { feature: string; value: unknown; contribution: number }[];
    fallback: string | null;
  };
  created_by: string;
  created_at: string;
}

interface Guideline {
  id: string;
  name: string;
  description: string;
  thresholds: { outcome: string; min_score: number }[];
  fallback_outcome: string;
  rules: { name: string; when: Record<string, unknown>; adjust: number; outcome: string | null }[];
  limits: { name: string; when: { feature: string; op: string; value: unknown }; outcome: string }[];
  created_at: string;
}

const GUIDELINE_EXAMPLE = JSON.stringify({
  name: "standard",
  thresholds: [{ outcome: "approve", min_score: 0.7 }, { outcome: "review", min_score: 0.4 }],
  fallback_outcome: "decline",
  rules: [],
  limits: [{ name: "no big orders", when: { feature: "amount", op: "gt", value: 10000 }, outcome: "decline" }],
}, null, 1);

export function DecisionsPage({ id }: { id: string | undefined }) {
  const list = useLoad(() => get<Page<DecisionView>>("decisions?limit=100"), []);
  const guidelines = useLoad(() => get<Page<Guideline>>("decisions/guidelines?limit=50"), []);
  const one = useLoad(() => (id ? get<DecisionView>(`decisions/${id}`) : Promise.resolve(null)), [id]);
  const decisions = list.data?.items ?? [];
  const shown = id ? one.data : null;
  const counts = decisions.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d.outcome]: (acc[d.outcome] ?? 0) + 1 }), {});
  return (
    <>
      <h1>Decisions</h1>
      <EvaluateForm guidelines={guidelines.data?.items ?? []} onDecided={(d) => { list.reload(); location.hash = `#/decisions/${d.id}`; }} />
      <ErrorBox error={one.error} />
      {shown && <Outcome decision={shown} />}
      <Section title="Kept decisions">
        <ErrorBox error={list.error} />
        {decisions.length > 0 && <BarChart label="Outcomes of the kept decisions" bars={Object.entries(counts).map(([label, value]) => ({ label, value }))} />}
        {list.data && decisions.length === 0 && <p>No decisions yet.</p>}
        <table>
          <thead><tr><th scope="col">When</th><th scope="col">Outcome</th><th scope="col">Score</th><th scope="col">Adjusted</th><th scope="col">Scored by</th><th scope="col">Limits hit</th></tr></thead>
          <tbody>
            {decisions.map((d) => (
              <tr key={d.id} aria-current={shown?.id === d.id ? "true" : undefined}>
                <td><a href={`#/decisions/${d.id}`}>{when(d.created_at)}</a></td>
                <td>{d.outcome}</td>
                <td>{fmt(d.score)}</td>
                <td>{fmt(d.adjusted_score)}</td>
                <td>{d.scored_by}</td>
                <td>{d.limits_hit.map((l) => l.name).join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Guidelines list={guidelines.data?.items ?? []} error={guidelines.error} reload={guidelines.reload} />
    </>
  );
}

function EvaluateForm({ guidelines, onDecided }: { guidelines: Guideline[]; onDecided: (d: DecisionView) => void }) {
  const models = useLoad(() => get<Page<ModelSummary>>("models?limit=100"), []);
  const [model, setModel] = useState("");
  const chosen = model || models.data?.items[0]?.id || "";
  const detail = useLoad(() => (chosen ? get<{ versions: ModelVersion[] }>(`models/${chosen}`) : Promise.resolve(null)), [chosen]);
  const example = Object.fromEntries((detail.data?.versions[0]?.features ?? []).map((f) => [f.column, f.encoding === "numeric" ? 0 : ""]));
  const [features, setFeatures] = useState<string | null>(null);
  const [guideline, setGuideline] = useState("");
  const [error, act, busy] = useAction();
  const text = features ?? JSON.stringify(example, null, 1);
  return (
    <Section title="Evaluate a case">
      <form className="stack" aria-label="Evaluate a case" onSubmit={(e) => {
        e.preventDefault();
        act(async () => {
          const body = { model_id: chosen, features: JSON.parse(text), ...(guideline ? { guideline_id: guideline } : {}) };
          onDecided(await post<DecisionView>("decisions/analyze", body));
        });
      }}>
        <div className="inline wrap">
          <label>Model<select aria-label="Model" value={chosen} onChange={(e) => { setModel(e.target.value); setFeatures(null); }} required>
            {models.data?.items.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select></label>
          <label>Guidelines<select aria-label="Guidelines" value={guideline} onChange={(e) => setGuideline(e.target.value)}>
            <option value="">the newest (or the defaults)</option>
            {guidelines.map((g) => <option key={g.id} value={g.id}>{g.name}</option>)}
          </select></label>
        </div>
        <label>Features (JSON)<textarea aria-label="Features (JSON)" rows={4} value={text} onChange={(e) => setFeatures(e.target.value)} /></label>
        <button type="submit" disabled={busy || !chosen}>Evaluate</button>
      </form>
      {models.data && models.data.items.length === 0 && <p>No models yet: train one in <a href="#/models">Models</a>.</p>}
      <ErrorBox error={error} />
    </Section>
  );
}

function Outcome({ decision: d }: { decision: DecisionView }) {
  return (
    <Section title="Outcome">
      <p role="status" aria-label="Outcome"><span className="outcome">{d.outcome}</span> · score {fmt(d.score)}{d.adjusted_score !== d.score ? `, adjusted to ${fmt(d.adjusted_score)}` : ""} · scored by {d.scored_by}{d.model_version ? ` (version ${d.model_version})` : ""}</p>
      <p>{d.explanation.summary}</p>
      {d.explanation.fallback && <p className="muted">Fallback: {d.explanation.fallback}</p>}
      <h3>Limits</h3>
      {d.limits_hit.length === 0 ? <p className="muted">No hard limit applied.</p> : (
        <ul aria-label="Limits hit">{d.limits_hit.map((l) => <li key={l.name}><strong>{l.name}</strong>: {l.condition} → {l.effect}</li>)}</ul>
      )}
      <h3>Reasons</h3>
      {d.rules_applied.length > 0 && (
        <ul aria-label="Rules applied">{d.rules_applied.map((r) => <li key={r.name}><strong>{r.name}</strong>: {r.condition} → {r.effect}</li>)}</ul>
      )}
      {d.explanation.top_contributions.length > 0 ? (
        <SignedBarChart label="Largest feature contributions to the score"
          bars={d.explanation.top_contributions.map((c) => ({ label: c.feature, value: c.contribution }))} />
      ) : <p className="muted">No feature contributions (the baseline scored it).</p>}
    </Section>
  );
}

function Guidelines({ list, error, reload }: { list: Guideline[]; error: unknown; reload: () => void }) {
  const [text, setText] = useState(GUIDELINE_EXAMPLE);
  const [actionError, act, busy] = useAction();
  return (
    <Section title="Guidelines and limits">
      <ErrorBox error={error} />
      {list.length === 0 && <p className="muted">No guideline set: approve from 0.7, review from 0.4, else decline.</p>}
      <ul>
        {list.map((g) => (
          <li key={g.id}>
            <strong>{g.name}</strong> ({when(g.created_at)}): {g.thresholds.map((t) => `${t.outcome} from ${fmt(t.min_score)}`).join(", ")}, else {g.fallback_outcome}
            {g.limits.length > 0 && <> · limits: {g.limits.map((l) => `${l.name} (${l.when.feature} ${l.when.op} ${fmt(l.when.value)} → ${l.outcome})`).join("; ")}</>}
          </li>
        ))}
      </ul>
      <form className="stack" aria-label="New guideline set" onSubmit={(e) => { e.preventDefault(); act(async () => { await post("decisions/guidelines", JSON.parse(text)); reload(); }); }}>
        <label>Guideline set (JSON; admins)<textarea aria-label="Guideline set (JSON)" rows={6} value={text} onChange={(e) => setText(e.target.value)} /></label>
        <button type="submit" disabled={busy}>Add guideline set</button>
      </form>
      <ErrorBox error={actionError} />
    </Section>
  );
}
