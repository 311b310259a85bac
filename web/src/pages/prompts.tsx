// Prompt Studio: ask a question; each execution shows its plan, turns, SQL, answer table and
// explanation; writes wait for confirmation in a dialog. History and saved prompts.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { del, get, post, type Page } from "../api";
import { DataTable, ErrorBox, Section, useLoad, when } from "../ui";

interface Execution {
  id: string;
  question: string;
  status: string;
  answer: string | null;
  table: { columns: string[]; rows: Record<string, unknown>[]; row_count: number; truncated: boolean; sql: string } | null;
  plan: { steps: { tool: string; effect: string; needs: string | null; datasets: string[]; status: string }[]; reads: string[]; writes: string[] };
  explanation: { text: string; filters: string[]; policies: string[]; masked_columns: string[]; sql: string[]; not_understood: string[] } | null;
  turns: { index: number; tool: string; status: string; summary: string; error: { message: string } | null }[];
  pending: { call_id: string; tool: string; summary: string; needs: string }[];
  error: { code?: string; message?: string } | null;
  created_at?: string;
}

interface Saved {
  id: string;
  name: string;
  question: string;
  created_at: string;
}

export function PromptStudio() {
  const [conversation, setConversation] = useState<Execution[]>([]);
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
      const ex = await post<Execution>("prompts/execute", { question: q, save });
      setConversation((xs) => [...xs, ex]);
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
              {conversation.map((ex) => <ExecutionView key={ex.id} ex={ex} />)}
            </ol>
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

function ExecutionView({ ex }: { ex: Execution }) {
  return (
    <li className="turn card" aria-label={`Question: ${ex.question}`}>
      <p className="question"><strong>You:</strong> {ex.question}</p>
      <p className="answer" data-status={ex.status}><strong>RiverGen:</strong> {ex.answer ?? ex.error?.message ?? ex.status}</p>
      {ex.table && (
        <>
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
