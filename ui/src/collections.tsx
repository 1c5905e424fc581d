// Event collections: each collection's counts, its recent events with their labels, and its
// statistics per time window over the last day, charted (docs/collections.md).

import { useEffect, useState } from "preact/hooks";

import { call, nanos, paths } from "./api";
import { Plot, type Line } from "./plot";
import { go, type Route } from "./route";
import { Alert, errorText } from "./alert";

interface Collection {
  name: string;
  inferences: number;
  labels: number;
}

interface Rows {
  columns: { name: string; role: string; type: string }[];
  rows: unknown[][];
}

interface Stats {
  compared: Record<string, string>;
  windows: {
    start: number;
    count: number;
    means: Record<string, number>;
    labeled_share: number;
    accuracy: Record<string, number>;
    mean_absolute_error: Record<string, number>;
  }[];
}

const WINDOWS: [string, number][] = [
  ["1 min", 60e3],
  ["10 min", 600e3],
  ["1 hour", 3600e3],
];
/** How far back the page looks. */
const DAY = 24 * 3600e3;
/** The most recent events shown. */
const RECENT = 50;
/** The most events one read of them returns. */
const READ_LIMIT = 10_000;

export function Collections(props: { route: Route }) {
  const [collections, setCollections] = useState<Collection[]>([]);
  const [error, setError] = useState<string | null>(null);
  const chosen = props.route.params.get("name");
  useEffect(() => {
    call<{ collections: Collection[] }>(paths.collections)
      .then((c) => setCollections(c.collections))
      .catch((e) => setError(errorText(e)));
  }, []);
  return (
    <main class="collections">
      <h2>Event collections</h2>
      <Alert error={error} />
      {collections.length === 0 && !error && <p class="hint">No collection yet.</p>}
      <nav class="tabs" id="collection-list">
        {collections.map((c) => (
          <button
            key={c.name}
            class={c.name === chosen ? "on" : ""}
            onClick={() => go("collections", new URLSearchParams({ name: c.name }))}
          >
            {c.name} <span class="type">{c.inferences.toLocaleString()} events, {c.labels.toLocaleString()} labels</span>
          </button>
        ))}
      </nav>
      {chosen && <CollectionView key={chosen} name={chosen} />}
    </main>
  );
}

function CollectionView(props: { name: string }) {
  const [rows, setRows] = useState<Rows | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [every, setEvery] = useState(WINDOWS[1][1]);
  const [error, setError] = useState<string | null>(null);
  const [now] = useState(Date.now);
  const [zoomed, setZoomed] = useState<{ start: number; end: number } | null>(null);
  const base = `${paths.collections}/${encodeURIComponent(props.name)}`;
  const fail = (e: unknown) => setError(errorText(e));

  // The most recent events: the last minute's, or if fewer than shown, the last ten minutes',
  // hour's or day's, each read with a limit, so that a busy collection answers as fast as a
  // quiet one (the newest of a window cut by the limit may be left out).
  useEffect(() => {
    let stop = false;
    void (async () => {
      for (const back of [60e3, 600e3, 3600e3, DAY]) {
        const query = new URLSearchParams({ start: nanos(now - back), end: nanos(now + 1), limit: String(READ_LIMIT) });
        try {
          const answer = await call<Rows>(`${base}/events?${query}`);
          if (stop) return;
          setRows(answer);
          if (answer.rows.length >= RECENT) return;
        } catch (e) {
          if (!stop) fail(e);
          return;
        }
      }
    })();
    return () => {
      stop = true;
    };
  }, [props.name]);
  useEffect(() => {
    const query = new URLSearchParams({ every: nanos(every), start: nanos(now - DAY), end: nanos(now + 1) });
    call<Stats>(`${base}/stats?${query}`).then(setStats).catch(fail);
  }, [props.name, every]);

  // Each statistic a line over the windows.
  const lines: Line[] = [];
  if (stats) {
    const add = (label: string, value: (w: Stats["windows"][number]) => number | undefined) => {
      const t: number[] = [];
      const v: number[] = [];
      for (const w of stats.windows) {
        const x = value(w);
        if (x === undefined) continue;
        t.push(w.start / 1e6);
        v.push(x);
      }
      if (t.length) lines.push({ key: label, t, v });
    };
    add("count", (w) => w.count);
    add("labelled share", (w) => w.labeled_share);
    const names = (pick: (w: Stats["windows"][number]) => Record<string, number>) =>
      [...new Set(stats.windows.flatMap((w) => Object.keys(pick(w))))].sort();
    for (const n of names((w) => w.means)) add(`mean ${n}`, (w) => w.means[n]);
    for (const n of names((w) => w.accuracy)) add(`accuracy ${n}`, (w) => w.accuracy[n]);
    for (const n of names((w) => w.mean_absolute_error)) add(`error ${n}`, (w) => w.mean_absolute_error[n]);
  }

  const recent = rows ? rows.rows.slice(-RECENT).reverse() : [];
  return (
    <section class="collection">
      <Alert error={error} />
      <h3>Statistics over the last day</h3>
      <div class="controls">
        {WINDOWS.map(([label, ms]) => (
          <button key={label} class={ms === every ? "on" : ""} onClick={() => setEvery(ms)}>
            per {label}
          </button>
        ))}
        {stats && Object.keys(stats.compared).length > 0 && (
          <span class="hint">
            compared:{" "}
            {Object.entries(stats.compared)
              .map(([label, prediction]) => `${label} with ${prediction}`)
              .join(", ")}
          </span>
        )}
      </div>
      {lines.length > 0 ? (
        <Plot
          lines={lines}
          annotations={[]}
          range={zoomed ?? { start: now - DAY, end: now }}
          onZoom={(start, end) => setZoomed({ start, end })}
          onReset={() => setZoomed(null)}
          height={260}
        />
      ) : (
        <p class="hint">No event in the last day.</p>
      )}
      <h3>Recent events</h3>
      {rows && (
        <table id="events">
          <thead>
            <tr>
              {rows.columns.map((c) => (
                <th key={c.name} title={`${c.role}, ${c.type}`}>
                  {c.name}
                  <span class="type"> {c.role}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {recent.map((row, i) => (
              <tr key={i}>
                {row.map((value, j) => (
                  <td key={j}>{cell(value, rows.columns[j]?.role ?? "")}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A cell as the table shows it. */
function cell(value: unknown, role: string): string {
  if (value === null || value === undefined) return "";
  if (role === "timestamp" && typeof value === "number") return new Date(value / 1e6).toISOString();
  return typeof value === "string" ? value : JSON.stringify(value);
}
