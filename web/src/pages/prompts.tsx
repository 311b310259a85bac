// Prompt Studio: ask a question, then follow it up in the same conversation; each execution
// shows its answer (drawn as the suggested chart), plan, turns, SQL, how it was read and its
// explanation; writes wait for confirmation in a dialog. History and saved prompts.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { del, get, post, type Page } from "../api";
import { DataTable, ErrorBox, Section, useLoad, when } from "../ui";

interface Execution {
  id: string;
  question: string;
  status: string;
  conversation_id: string | null;
  answer: string | null;
  table: { columns: string[]; rows: Record<string, unknown>[]; row_count: number; truncated: boolean; sql: string; chart: Chart } | null;
  reading: {
    understood: string[];
    layer: { measures: string[]; synonyms: string[]; relationships: string[]; verified_queries: string[] };
    clarification: { question: string; options: string[] } | null;
  } | null;
  plan: { steps: { tool: string; effect: string; needs: string | null; datasets: string[]; status: string }[]; reads: string[]; writes: string[] };
  explanation: { text: string; filters: string[]; policies: string[]; masked_columns: string[]; sql: string[]; not_understood: string[] } | null;
  turns: { index: number; tool: string; status: string; summary: string; error: { message: string } | null }[];
  pending: { call_id: string; tool: string; summary: string; needs: string }[];
  error: { code?: string; message?: string } | null;
  created_at?: string;
}

interface Chart {
  kind: "number" | "bar" | "line" | "table";
  x: string | null;
  y: string | null;
}

interface Saved {
  id: string;
  name: string;
  question: string;
  created_at: string;
}

export function PromptStudio() {
  const [conversation, setConversation] = useState<Execution[]>([]);
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [question, setQuestion] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState<Execution | null>(null);
  const history = useLoad(() => get<Page<Execution>>("prompts/executions?limit=20"), []);
  const saved = useLoad(() => get<Page<Saved>>("prompts/saved?limit=50"), []);

  async function ask(q: string, save = false) {
    setBusy(true);
    setError(null);
    try {
      const body = conversationId ? { question: q, save, conversation_id: conversationId } : { question: q, save };
      const ex = await post<Execution>("prompts/execute", body);
      setConversation((xs) => [...xs, ex]);
      setConversationId(ex.conversation_id);
      if (ex.status === "awaiting_confirmation") setConfirming(ex);
      history.reload();
      if (save) saved.reload();
      setQuestion("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  function submit(e: FormEvent) {
    e.preventDefault();
    if (question.trim()) ask(question.trim());
  }
  async function confirm(ex: Execution) {
    try {
      const done = await post<Execution>(`prompts/executions/${ex.id}/confirm`);
      setConversation((xs) => xs.map((x) => (x.id === ex.id ? done : x)));
    } catch (err) {
      setError(err);
    } finally {
      setConfirming(null);
    }
  }
  async function saveQuestion() {
    if (!question.trim()) return;
    try {
      await post("prompts/saved", { question: question.trim() });
      saved.reload();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h1>Prompt Studio</h1>
      <div className="studio">
        <div>
          <Section title="Conversation">
            <ol className="conversation" aria-label="Conversation" aria-live="polite">
              {conversation.map((ex) => <ExecutionView key={ex.id} ex={ex} onPick={(option) => ask(option)} />)}
            </ol>
            {conversation.length > 0 && (
              <p className="small muted">Follow up: “and by country?”, “only 1997”, “show the top 5 instead”, “what about France?”, “why?”.{" "}
                <button type="button" className="link" onClick={() => { setConversation([]); setConversationId(null); }}>New conversation</button>
              </p>
            )}
            <form onSubmit={submit} className="ask" aria-label="Ask a question">
              <label className="grow">Question
                <input value={question} onChange={(e) => setQuestion(e.target.value)} placeholder="how many orders were shipped" required />
              </label>
              <button type="submit" disabled={busy}>{busy ? "Asking…" : "Ask"}</button>
              <button type="button" onClick={saveQuestion} disabled={busy || !question.trim()}>Save prompt</button>
            </form>
            <ErrorBox error={error} />
          </Section>
        </div>
        <aside aria-label="Prompts">
          <Section title="Saved prompts">
            <ErrorBox error={saved.error} />
            <ul>
              {saved.data?.items.map((s) => (
                <li key={s.id}>
                  <button className="link" onClick={() => ask(s.question)}>{s.name}</button>
                  <button className="small" aria-label={`Delete saved prompt ${s.name}`} onClick={() => del(`prompts/saved/${s.id}`).then(saved.reload, setError)}>✕</button>
                </li>
              ))}
              {saved.data?.items.length === 0 && <li className="muted">None yet.</li>}
            </ul>
          </Section>
          <Section title="History">
            <ul>
              {history.data?.items.map((h) => (
                <li key={h.id}>
                  <button className="link" onClick={() => setConversation((xs) => (xs.some((x) => x.id === h.id) ? xs : [...xs, h]))}>{h.question}</button>
                  <small> {h.status} {when(h.created_at)}</small>
                </li>
              ))}
            </ul>
          </Section>
        </aside>
      </div>
      {confirming && <ConfirmDialog ex={confirming} onConfirm={() => confirm(confirming)} onCancel={() => setConfirming(null)} />}
    </>
  );
}

function ExecutionView({ ex, onPick }: { ex: Execution; onPick: (option: string) => void }) {
  const layer = ex.reading?.layer;
  const used = layer ? [
    ...layer.measures.map((m) => `measure ${m}`), ...layer.synonyms.map((s) => `synonym ${s}`),
    ...layer.relationships.map((r) => `relationship ${r}`), ...layer.verified_queries.map((q) => `verified query “${q}”`),
  ] : [];
  return (
    <li className="turn card" aria-label={`Question: ${ex.question}`}>
      <p className="question"><strong>You:</strong> {ex.question}</p>
      <p className="answer" data-status={ex.status}><strong>RiverGen:</strong> {ex.answer ?? ex.error?.message ?? ex.status}</p>
      {ex.reading?.clarification && (
        <div role="group" aria-label="Options">
          {ex.reading.clarification.options.map((o, i) => (
            <button key={o} type="button" onClick={() => onPick(String(i + 1))}>{o}</button>
          ))}
        </div>
      )}
      {ex.table && (
        <>
          <AnswerChart chart={ex.table.chart} rows={ex.table.rows} />
          <DataTable label="Answer table" columns={ex.table.columns} rows={ex.table.rows} />
          <p className="small muted">{ex.table.row_count} rows{ex.table.truncated ? " (first shown)" : ""}</p>
        </>
      )}
      <details>
        <summary>Plan ({ex.plan.steps.length} steps{ex.plan.writes.length ? `, writes ${ex.plan.writes.join(", ")}` : ""})</summary>
        <ol>{ex.plan.steps.map((s, i) => <li key={i}>{s.tool} — {s.effect}{s.needs ? `, needs ${s.needs}` : ""}{s.datasets.length ? `, on ${s.datasets.join(", ")}` : ""} — {s.status}</li>)}</ol>
      </details>
      <details>
        <summary>Turns ({ex.turns.length})</summary>
        <ol>{ex.turns.map((t) => <li key={t.index}><code>{t.tool}</code> {t.status}: {t.summary}{t.error ? ` (${t.error.message})` : ""}</li>)}</ol>
      </details>
      {(ex.table?.sql || ex.explanation?.sql.length) && (
        <details open>
          <summary>SQL</summary>
          <pre aria-label="SQL"><code>{ex.table?.sql ?? ex.explanation?.sql.join("\n")}</code></pre>
        </details>
      )}
      {ex.reading && (ex.reading.understood.length > 0 || used.length > 0) && (
        <details>
          <summary>How this was read</summary>
          <ul>{ex.reading.understood.map((u) => <li key={u}>{u}</li>)}</ul>
          <p>Semantic layer entries used: {used.length ? used.join("; ") : "none"}</p>
        </details>
      )}
      {ex.explanation && (
        <details>
          <summary>Explanation</summary>
          <p>{ex.explanation.text}</p>
          {ex.explanation.policies.length > 0 && <p>Policies applied: {ex.explanation.policies.join(", ")}</p>}
          {ex.explanation.masked_columns.length > 0 && <p>Masked: {ex.explanation.masked_columns.join(", ")}</p>}
          {ex.explanation.not_understood.length > 0 && <p>Not understood: {ex.explanation.not_understood.join(", ")}</p>}
        </details>
      )}
    </li>
  );
}

function ConfirmDialog({ ex, onConfirm, onCancel }: { ex: Execution; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" aria-describedby="confirm-body" onCancel={onCancel}>
      <h2 id="confirm-title">Confirm changes</h2>
      <div id="confirm-body">
        <p>“{ex.question}” wants to change data:</p>
        <ul>{ex.pending.map((p) => <li key={p.call_id}>{p.summary} <small>(needs {p.needs})</small></li>)}</ul>
      </div>
      <div className="inline">
        <button onClick={onConfirm} autoFocus>Confirm</button>
        <button onClick={onCancel}>Cancel</button>
      </div>
    </dialog>
  );
}

// The suggested chart, hand-drawn: a single number, bars for categories, a line over time.
function AnswerChart({ chart, rows }: { chart: Chart; rows: Record<string, unknown>[] }) {
  if (chart.kind === "table" || !chart.y || rows.length === 0) return null;
  const y = chart.y;
  if (chart.kind === "number") {
    return <p className="big-number" aria-label={`Answer: ${y}`}>{String(rows[0][y])}</p>;
  }
  const x = chart.x ?? "";
  const points = rows.slice(0, 50).map((r) => ({ label: String(r[x]), value: Number(r[y]) || 0 }));
  const max = Math.max(...points.map((p) => p.value), 0) || 1;
  const width = 480, height = 180, step = width / points.length;
  const top = (v: number) => height - (v / max) * (height - 10);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`${chart.kind} chart of ${y} by ${x}`}>
        {chart.kind === "bar" ? points.map((p, i) => (
          <rect key={i} x={i * step + 2} y={top(p.value)} width={Math.max(step - 4, 1)} height={height - top(p.value)} fill="currentColor" opacity="0.7">
            <title>{`${p.label}: ${p.value}`}</title>
          </rect>
        )) : (
          <polyline fill="none" stroke="currentColor" strokeWidth="2"
            points={points.map((p, i) => `${i * step + step / 2},${top(p.value)}`).join(" ")} />
        )}
        {points.map((p, i) => (
          <text key={`l${i}`} x={i * step + step / 2} y={height + 14} fontSize="10" textAnchor="middle">{p.label.slice(0, 10)}</text>
        ))}
      </svg>
      <figcaption className="small muted">{y} by {x}</figcaption>
    </figure>
  );
}
