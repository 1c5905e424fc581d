// Runs: the list, newest first, and a run's page: its channels over its time range on one
// plot, its annotations shaded and reviewable.

import { useEffect, useRef, useState } from "preact/hooks";

import { AnnotationTable, annotationAt } from "./annotations";
import { call, fetchPlot, nanos, paths, type Annotation, type FileInfo, type RunInfo, type SeriesList } from "./api";
import { Plot, type Line } from "./plot";
import { go, href, type Route } from "./route";
import { Alert, errorText } from "./alert";

const time = (ns: number | null) => (ns === null ? "" : new Date(ns / 1e6).toISOString());

export function Runs() {
  const [runs, setRuns] = useState<RunInfo[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const load = (token: string) => {
    const query = new URLSearchParams({ page_size: "200", page_token: token });
    call<{ runs: RunInfo[]; next_page_token: string }>(`${paths.runs}?${query}`)
      .then((r) => {
        setRuns((old) => [...(token ? (old ?? []) : []), ...r.runs]);
        setNext(r.next_page_token);
      })
      .catch((e) => setError(errorText(e)));
  };
  useEffect(() => load(""), []);
  return (
    <main class="runs">
      <h2>Runs</h2>
      <Alert error={error} />
      {runs && runs.length === 0 && <p class="hint">No run yet: Sift clients create runs as they ingest.</p>}
      {runs && runs.length > 0 && (
        <input
          id="run-filter"
          placeholder="Filter by name, asset or tag"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
      )}
      {runs && runs.length > 0 && (
        <table id="runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Assets</th>
              <th>Start</th>
              <th>Stop</th>
              <th>Tags</th>
            </tr>
          </thead>
          <tbody>
            {runs.filter((r) => matches(r, filter)).map((r) => (
              <tr key={r.run_id}>
                <td>
                  <a href={href("run", new URLSearchParams({ id: r.run_id }))}>{r.name}</a>
                </td>
                <td>{r.assets.join(", ")}</td>
                <td>{time(r.start_time)}</td>
                <td>{r.stop_time === null ? "running" : time(r.stop_time)}</td>
                <td>{r.tags.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button id="more-runs" onClick={() => load(next)}>
          Older runs
        </button>
      )}
    </main>
  );
}

/** Whether every word of `filter` is in the run's name, its assets or its tags. */
function matches(run: RunInfo, filter: string): boolean {
  const text = [run.name, ...run.assets, ...run.tags].join(" ").toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .every((word) => text.includes(word));
}

/** How many channels a run's page plots when none is chosen. */
const FIRST_CHANNELS = 6;

export function RunPage(props: { route: Route }) {
  const id = props.route.params.get("id") ?? "";
  const [run, setRun] = useState<RunInfo | null>(null);
  const [channels, setChannels] = useState<SeriesList | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [annotations, setAnnotations] = useState<Annotation[]>([]);
  const [picked, setPicked] = useState<string | null>(null);
  const [files, setFiles] = useState<FileInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  // When the page opened: "now" for a run with neither times nor data, fixed while it renders.
  const [opened] = useState(Date.now);
  const fail = (e: unknown) => setError(errorText(e));

  useEffect(() => {
    setError(null);
    call<RunInfo>(`${paths.runs}/${encodeURIComponent(id)}`).then(setRun).catch(fail);
    const query = new URLSearchParams({ match: `{run=${JSON.stringify(id)}}`, limit: "1000" });
    call<SeriesList>(`${paths.series}?${query}`).then(setChannels).catch(fail);
    // Attachments need a key that reads data; without one the page goes without them.
    const attached = new URLSearchParams({ entity_type: "run", entity_id: id });
    call<{ files: FileInfo[] }>(`${paths.files}?${attached}`)
      .then((f) => setFiles(f.files))
      .catch(() => setFiles([]));
  }, [id]);

  // The run's range, unless the view was zoomed.
  // Its start and stop times, or where its data starts and ends (runs that clients attach
  // have neither time), or the last day.
  const runStart = (run?.start_time ?? run?.data_range?.[0] ?? (opened - 24 * 3600e3) * 1e6) / 1e6;
  const runEnd = (run?.stop_time ?? run?.data_range?.[1] ?? opened * 1e6) / 1e6;
  const start = Number(props.route.params.get("from")) || runStart;
  const end = Number(props.route.params.get("to")) || runEnd + 1;
  const chosen = props.route.params.getAll("s");
  const numeric = (channels?.series ?? []).filter((s) => !["string", "bytes"].includes(s.data_type));
  const keys = chosen.length ? chosen : numeric.slice(0, FIRST_CHANNELS).map((s) => s.key);

  function setView(change: { keys?: string[]; start?: number; end?: number }) {
    const params = new URLSearchParams({ id });
    for (const k of change.keys ?? keys) params.append("s", k);
    if (change.start !== undefined) params.set("from", String(Math.round(change.start)));
    if (change.end !== undefined) params.set("to", String(Math.round(change.end)));
    go("run", params);
  }

  useEffect(() => {
    if (!run || !keys.length) {
      setLines([]);
      return;
    }
    const abort = new AbortController();
    const width = Math.max(300, box.current?.clientWidth ?? document.body.clientWidth - 48);
    fetchPlot(keys, start, end, width, abort.signal)
      .then((a) => {
        const names = new Map((channels?.series ?? []).map((s) => [s.key, s.name]));
        setLines(
          a.series.map((s) => ({
            key: s.key,
            label: names.get(s.key),
            t: s.t,
            v: s.v,
            dataType: s.data_type,
            channel: s.channel,
          })),
        );
      })
      .catch((e) => abort.signal.aborted || fail(e));
    return () => abort.abort();
  }, [run, keys.join("\n"), start, end]);

  const loadAnnotations = () => {
    const query = new URLSearchParams({ run_id: id, from: nanos(start), to: nanos(end) });
    call<{ annotations: Annotation[] }>(`${paths.annotations}?${query}`)
      .then((a) => setAnnotations(a.annotations))
      .catch(fail);
  };
  useEffect(loadAnnotations, [id, start, end]);

  if (!run) return <main>{error ? <p class="error">{error}</p> : <p class="hint">Loading the run…</p>}</main>;
  return (
    <main class="run">
      <h2 id="run-name">{run.name}</h2>
      <p class="hint">
        {run.assets.join(", ")} · {time(run.start_time ?? run.data_range?.[0] ?? null)} →{" "}
        {run.stop_time === null ? "running" : time(run.stop_time)}
        {run.description && ` · ${run.description}`}
      </p>
      <Alert error={error} />
      <ul class="found channels">
        {(channels?.series ?? []).map((s) => (
          <li key={s.key}>
            <label>
              <input
                type="checkbox"
                checked={keys.includes(s.key)}
                onChange={(e) =>
                  setView({ keys: e.currentTarget.checked ? [...keys, s.key] : keys.filter((k) => k !== s.key) })
                }
              />
              <code>{s.name}</code> <span class="type">{s.data_type}</span>
            </label>
          </li>
        ))}
      </ul>
      <div ref={box}>
        {keys.length === 0 ? (
          <p class="hint">This run has no channel to plot.</p>
        ) : (
          <Plot
            lines={lines}
            annotations={annotations}
            range={{ start, end }}
            onZoom={(s, e) => setView({ start: s, end: e })}
            onReset={() => setView({ start: start - (end - start) / 2, end: end + (end - start) / 2 })}
            onPick={(at) => setPicked(annotationAt(annotations, at)?.annotation_id ?? null)}
          />
        )}
      </div>
      <AnnotationTable annotations={annotations} picked={picked} onPick={setPicked} onChanged={loadAnnotations} />
      {files.length > 0 && (
        <>
          <h3>Attachments</h3>
          <ul id="attachments">
            {files.map((f) => (
              <li key={f.file_id}>
                <a href={f.download_path} target="_blank" rel="noopener">
                  {f.file_name}
                </a>{" "}
                <span class="type">
                  {f.mime_type}, {f.size.toLocaleString()} bytes
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </main>
  );
}
