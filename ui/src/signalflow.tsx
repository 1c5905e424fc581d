// SignalFlow: a program, run as a batch over a past range or live from a point in the past on,
// its published streams charted as they arrive (POST /v2/signalflow/execute, Server-Sent
// Events; docs/signalflow.md).

import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, refusedKey, storedKey } from "./api";
import { Plot, type Line } from "./plot";
import { readEvents } from "./sse";
import { Alert, errorText } from "./alert";

const EXAMPLE = "data('cpu.usage_user').mean(by=['host']).publish('A')";
const SPANS: [string, number][] = [
  ["15 minutes", 15 * 60e3],
  ["1 hour", 3600e3],
  ["1 day", 24 * 3600e3],
];
const RESOLUTIONS: [string, number][] = [
  ["automatic", 0],
  ["1 s", 1e3],
  ["10 s", 10e3],
  ["1 min", 60e3],
  ["5 min", 300e3],
];

interface Series {
  label: string;
  t: number[];
  v: (number | null)[];
}

/** A published series' name: its stream label and the dimensions that tell it apart. */
function labelOf(properties: Record<string, unknown>): string {
  const dimensions = Object.entries(properties)
    .filter(([k, v]) => !k.startsWith("sf_") && k !== "jobId" && typeof v === "string")
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  const stream = String(properties.sf_streamLabel ?? properties.sf_metric ?? "");
  return dimensions.length ? `${stream} {${dimensions.join(", ")}}` : stream;
}

export function SignalFlow() {
  const [program, setProgram] = useState(EXAMPLE);
  const [span, setSpan] = useState(SPANS[1][1]);
  const [resolution, setResolution] = useState(0);
  const [live, setLive] = useState(false);
  const [lines, setLines] = useState<Line[]>([]);
  const [range, setRange] = useState<{ start: number; end: number } | null>(null);
  // A range dragged across the chart, until a double click goes back to the job's.
  const [zoomed, setZoomed] = useState<{ start: number; end: number } | null>(null);
  const [state, setState] = useState<"idle" | "running" | "done">("idle");
  const [info, setInfo] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const running = useRef<AbortController | null>(null);
  // A live program stops when the page is left.
  useEffect(() => () => running.current?.abort(), []);

  async function run(e: Event) {
    e.preventDefault();
    running.current?.abort();
    const abort = new AbortController();
    running.current = abort;
    setError(null);
    setInfo([]);
    setLines([]);
    setZoomed(null);
    const now = Date.now();
    const start = now - span;
    setRange({ start, end: now });
    setState("running");
    const query = new URLSearchParams({ start: String(start) });
    if (!live) query.set("stop", String(now));
    if (resolution) query.set("resolution", String(resolution));
    const series = new Map<string, Series>();
    let frame = 0;
    // Redraw at most once a frame, however fast the data messages come.
    const redraw = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setLines([...series.entries()].map(([key, s]) => ({ key, label: s.label, t: [...s.t], v: [...s.v] })));
        if (live) setRange({ start, end: Math.max(Date.now(), now) });
      });
    };
    try {
      const response = await fetch(`/v2/signalflow/execute?${query}`, {
        method: "POST",
        headers: { authorization: `Bearer ${storedKey() ?? ""}`, "content-type": "text/plain" },
        body: program,
        signal: abort.signal,
      });
      if (!response.ok || !response.body) {
        refusedKey(response.status);
        const body = await response.json().catch(() => ({}));
        throw new ApiError(response.status, body.message ?? body.error ?? `${response.status} ${response.statusText}`);
      }
      await readEvents(response.body, ({ data }) => {
        const message = JSON.parse(data);
        switch (message.type) {
          case "metadata":
            series.set(message.tsId, { label: labelOf(message.properties ?? {}), t: [], v: [] });
            break;
          case "data":
            for (const d of message.data as { tsId: string; value: number | null }[]) {
              const s = series.get(d.tsId);
              if (!s) continue;
              s.t.push(message.logicalTimestampMs);
              s.v.push(d.value);
            }
            redraw();
            break;
          case "message":
            setInfo((old) => [...old, `${message.message?.messageCode}: ${JSON.stringify(message.message?.contents ?? {})}`]);
            break;
          case "error":
            setError(message.message ?? JSON.stringify(message));
            break;
        }
      });
      redraw();
      setState("done");
    } catch (err) {
      if (!abort.signal.aborted) setError(errorText(err));
      setState("done");
    }
  }

  return (
    <main class="signalflow">
      <h2>SignalFlow</h2>
      <form id="program" onSubmit={run}>
        <textarea name="program" rows={5} spellcheck={false} value={program} onInput={(e) => setProgram(e.currentTarget.value)} />
        <div class="controls">
          <select name="span" value={String(span)} onChange={(e) => setSpan(Number(e.currentTarget.value))}>
            {SPANS.map(([label, ms]) => (
              <option key={label} value={String(ms)}>
                {live ? `from ${label} ago on` : `the last ${label}`}
              </option>
            ))}
          </select>
          <select name="resolution" value={String(resolution)} onChange={(e) => setResolution(Number(e.currentTarget.value))}>
            {RESOLUTIONS.map(([label, ms]) => (
              <option key={label} value={String(ms)}>
                resolution {label}
              </option>
            ))}
          </select>
          <label>
            <input name="live" type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> live
          </label>
          <button type="submit">Run</button>
          {state === "running" && live && (
            <button
              type="button"
              id="stop"
              onClick={() => {
                running.current?.abort();
                setState("done");
              }}
            >
              Stop
            </button>
          )}
          <span class="hint" id="job-state">
            {state}
          </span>
        </div>
      </form>
      <Alert error={error} />
      {range && lines.length > 0 && (
        <Plot
          lines={lines}
          annotations={[]}
          range={zoomed ?? range}
          onZoom={(start, end) => setZoomed({ start, end })}
          onReset={() => setZoomed(null)}
        />
      )}
      {info.length > 0 && (
        <ul class="hint" id="job-info">
          {info.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
      )}
    </main>
  );
}
