// Small shared pieces: data table, SVG charts, progress bar, error box, a loader hook.
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { describe, type Column, type Row } from "./api";

export function fmt(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function DataTable({ columns, rows, label }: { columns: (Column | string)[]; rows: Row[]; label: string }) {
  const names = columns.map((c) => (typeof c === "string" ? c : c.name));
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table>
        <caption className="sr-only">{label}</caption>
        <thead>
          <tr>{names.map((n) => <th key={n} scope="col">{n}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>{names.map((n) => <td key={n}>{fmt(row[n])}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface Bar {
  label: string;
  value: number;
}

/** Horizontal bars, hand-drawn SVG; the numbers are also in the accessible text. */
export function BarChart({ bars, label, unit = "" }: { bars: Bar[]; label: string; unit?: string }) {
  const max = Math.max(1e-9, ...bars.map((b) => b.value));
  const rowH = 20;
  const height = bars.length * rowH + 4;
  return (
    <figure className="chart">
      <svg role="img" aria-label={`${label}: ${bars.map((b) => `${b.label} ${fmt(b.value)}${unit}`).join(", ")}`}
        viewBox={`0 0 320 ${height}`} width="100%" preserveAspectRatio="xMinYMin meet">
        {bars.map((b, i) => (
          <g key={i} transform={`translate(0 ${i * rowH + 2})`}>
            <text x="0" y="13" fontSize="11" className="chart-label">{b.label.slice(0, 16)}</text>
            <rect x="110" y="2" height="14" width={Math.max(1, (b.value / max) * 160)} className="bar" />
            <text x={114 + (b.value / max) * 160} y="13" fontSize="11">{fmt(b.value)}{unit}</text>
          </g>
        ))}
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}

/** Vertical bins of a histogram. */
export function Histogram({ edges, counts, label }: { edges: (number | string)[]; counts: number[]; label: string }) {
  const max = Math.max(1, ...counts);
  const w = 300 / Math.max(1, counts.length);
  return (
    <figure className="chart">
      <svg role="img" viewBox="0 0 300 110" width="100%"
        aria-label={`${label}: ${counts.map((c, i) => `${fmt(edges[i])} to ${fmt(edges[i + 1])}: ${c}`).join(", ")}`}>
        {counts.map((c, i) => (
          <rect key={i} className="bar" x={i * w + 1} width={Math.max(1, w - 2)} y={100 - (c / max) * 95} height={(c / max) * 95}>
            <title>{`${fmt(edges[i])} – ${fmt(edges[i + 1])}: ${c}`}</title>
          </rect>
        ))}
        <line x1="0" x2="300" y1="100" y2="100" className="axis" />
        <text x="0" y="109" fontSize="9">{fmt(edges[0])}</text>
        <text x="300" y="109" fontSize="9" textAnchor="end">{fmt(edges[edges.length - 1])}</text>
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}

export function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100}
      aria-valuenow={Math.round(pct)} aria-valuetext={`${Math.round(pct)}%`}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-text">{Math.round(pct)}%</span>
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return <p className="error" role="alert">{describe(error)}</p>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const id = `h-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <section aria-labelledby={id} className="card">
      <div className="card-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Load something; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: unknown; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => live && (setData(d), setError(null)))
      .catch((e) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, loading, reload };
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "";
}

/** Run an action; its error (if any) is kept to show. JSON typos read as such. */
export function useAction(): [unknown, (fn: () => Promise<unknown>) => Promise<void>, boolean] {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return [
    error,
    async (fn) => {
      setError(null);
      setBusy(true);
      try {
        await fn();
      } catch (err) {
        setError(err instanceof SyntaxError ? new Error(`not valid JSON: ${err.message}`) : err);
      } finally {
        setBusy(false);
      }
    },
    busy,
  ];
}

export interface SignedBar extends Bar {
  /** Drawn in the alarm colour. */
  flagged?: boolean;
}

/** Bars left (negative) and right (positive) of a zero line, with an optional threshold
 * line; hand-drawn SVG, the numbers also in the accessible text. */
export function SignedBarChart({ bars, label, threshold }: { bars: SignedBar[]; label: string; threshold?: { value: number; label: string } }) {
  const extent = Math.max(1e-9, ...bars.map((b) => Math.abs(b.value)), threshold ? Math.abs(threshold.value) : 0);
  const negative = bars.some((b) => b.value < 0);
  const rowH = 20;
  const height = bars.length * rowH + 18;
  // Labels take the first 120 units; each side leaves room for its values' text.
  const x0 = negative ? 255 : 130;
  const span = negative ? 80 : 200;
  const scale = (v: number) => (v / extent) * span;
  const described = bars.map((b) => `${b.label} ${fmt(b.value)}${b.flagged ? " (flagged)" : ""}`).join(", ");
  return (
    <figure className="chart">
      <svg role="img" aria-label={`${label}: ${described}${threshold ? `; ${threshold.label} ${fmt(threshold.value)}` : ""}`}
        viewBox={`0 0 400 ${height}`} width="100%" preserveAspectRatio="xMinYMin meet">
        {bars.map((b, i) => {
          const w = scale(b.value);
          return (
            <g key={i} transform={`translate(0 ${i * rowH + 2})`}>
              <text x="0" y="13" fontSize="11" className="chart-label">{b.label.slice(0, 20)}</text>
              <rect x={w < 0 ? x0 + w : x0} y="2" height="14" width={Math.max(1, Math.abs(w))} className={b.flagged ? "bar flagged" : b.value < 0 ? "bar negative" : "bar"} />
              <text x={w < 0 ? x0 + w - 3 : x0 + w + 3} y="13" fontSize="10" textAnchor={w < 0 ? "end" : "start"}>{fmt(b.value)}</text>
            </g>
          );
        })}
        <line x1={x0} x2={x0} y1="0" y2={height - 14} className="axis" />
        {threshold && (
          <g>
            <line x1={x0 + scale(threshold.value)} x2={x0 + scale(threshold.value)} y1="0" y2={height - 14} className="threshold" />
            <text x={x0 + scale(threshold.value)} y={height - 3} fontSize="9" textAnchor="middle">{threshold.label} {fmt(threshold.value)}</text>
          </g>
        )}
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}

export interface Series {
  name: string;
  points: number[];
}

/** Lines over a shared x axis (runs in order), with a legend; hand-drawn SVG. */
export function LineChart({ series, xLabels, label, min, max }: { series: Series[]; xLabels: string[]; label: string; min?: number; max?: number }) {
  const values = series.flatMap((s) => s.points);
  const lo = min ?? Math.min(0, ...values);
  const hi = Math.max(max ?? -Infinity, ...values, lo + 1e-9);
  const W = 320, H = 120, left = 30, bottom = 104;
  const n = Math.max(1, xLabels.length - 1);
  const x = (i: number) => left + (i / n) * (W - left - 10);
  const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - 8);
  const described = series.map((s) => `${s.name}: ${s.points.map((p, i) => `${xLabels[i]} ${fmt(p)}`).join(", ")}`).join("; ");
  return (
    <figure className="chart">
      <svg role="img" aria-label={`${label}. ${described}`} viewBox={`0 0 ${W} ${H + 4}`} width="100%">
        <line x1={left} x2={W - 5} y1={bottom} y2={bottom} className="axis" />
        <line x1={left} x2={left} y1="4" y2={bottom} className="axis" />
        <text x={left - 3} y={bottom} fontSize="9" textAnchor="end">{fmt(lo)}</text>
        <text x={left - 3} y="12" fontSize="9" textAnchor="end">{fmt(hi)}</text>
        {series.map((s, k) => (
          <g key={s.name} className={`series series-${k}`}>
            <polyline fill="none" points={s.points.map((p, i) => `${x(i)},${y(p)}`).join(" ")} />
            {s.points.map((p, i) => <circle key={i} cx={x(i)} cy={y(p)} r="3"><title>{`${s.name} ${xLabels[i]}: ${fmt(p)}`}</title></circle>)}
          </g>
        ))}
        <text x={left} y={H + 2} fontSize="9">{xLabels[0]}</text>
        {xLabels.length > 1 && <text x={W - 10} y={H + 2} fontSize="9" textAnchor="end">{xLabels[xLabels.length - 1]}</text>}
      </svg>
      <figcaption>
        {label}: {series.map((s, k) => <span key={s.name} className={`legend series-${k}`}>{s.name}</span>)}
      </figcaption>
    </figure>
  );
}
