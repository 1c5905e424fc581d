// Explore: find series, plot several on one time axis, zoom into a range (the server answers
// the narrower range at full detail), follow new points live, and see the annotations of the
// range shaded on the plot.

import { useEffect, useRef, useState } from "preact/hooks";

import { call, fetchPlot, nanos, paths, type Annotation, type Plot as PlotAnswer, type SeriesInfo, type SeriesList } from "./api";
import { AnnotationTable, annotationAt } from "./annotations";
import { subscribe, type LivePoints } from "./live";
import { Plot, type Line } from "./plot";
import { go, type Route } from "./route";
import { Alert, errorText } from "./alert";

const SPANS: [string, number][] = [
  ["15m", 15 * 60e3],
  ["1h", 3600e3],
  ["6h", 6 * 3600e3],
  ["24h", 24 * 3600e3],
  ["7d", 7 * 24 * 3600e3],
  ["30d", 30 * 24 * 3600e3],
];

/** The series query of what the search box holds and the label filters picked: a selector as
 *  it is, words as words every key must contain; each filter a label's exact value. */
export function seriesQuery(text: string, filters: [string, string][]): URLSearchParams {
  const query = new URLSearchParams({ limit: "200" });
  const t = text.trim();
  const selector = /[{}=~"]/.test(t);
  if (t && !selector) query.set("q", t);
  const labels = filters.map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(",");
  if (selector) {
    // A selector's own conditions, and the filters' beside them.
    query.set("match", labels ? t.replace(/}\s*$/, `,${labels}}`).replace("{,", "{") : t);
  } else if (labels) {
    query.set("match", `{${labels}}`);
  }
  return query;
}

/** The labels of `series` with their values and how many series have each, most common first. */
function facets(series: SeriesInfo[]): [string, [string, number][]][] {
  const by = new Map<string, Map<string, number>>();
  for (const s of series) {
    for (const [name, value] of Object.entries(s.labels)) {
      const values = by.get(name) ?? new Map<string, number>();
      values.set(value, (values.get(value) ?? 0) + 1);
      by.set(name, values);
    }
  }
  return [...by.entries()]
    .map(([name, values]) => [name, [...values.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))] as [string, [string, number][]])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

interface View {
  keys: string[];
  start: number;
  end: number;
  live: boolean;
  query: string;
  /** Label filters of the search: `label=value`. */
  filters: [string, string][];
}

/** The view the URL holds; without a range, the hour before `now`. */
function readView(route: Route, now: number): View {
  const end = Number(route.params.get("to")) || now;
  const start = Number(route.params.get("from")) || end - 3600e3;
  return {
    keys: route.params.getAll("s"),
    start,
    end,
    live: route.params.get("live") === "1",
    query: route.params.get("q") ?? "",
    filters: route.params.getAll("f").map((f) => {
      const at = f.indexOf("=");
      return [f.slice(0, at), f.slice(at + 1)] as [string, string];
    }),
  };
}

function writeView(view: View, replace = false) {
  const params = new URLSearchParams();
  for (const key of view.keys) params.append("s", key);
  params.set("from", String(Math.round(view.start)));
  params.set("to", String(Math.round(view.end)));
  if (view.live) params.set("live", "1");
  if (view.query) params.set("q", view.query);
  for (const [name, value] of view.filters) params.append("f", `${name}=${value}`);
  go("explore", params, replace);
}

export function Explore(props: { route: Route }) {
  // When the page opened: the default range ends here, so that it stays put while the page
  // renders.
  const [opened] = useState(Date.now);
  const view = readView(props.route, opened);
  const [search, setSearch] = useState(view.query);
  const [found, setFound] = useState<SeriesList | null>(null);
  const [info, setInfo] = useState<Map<string, SeriesInfo>>(new Map());
  const [lines, setLines] = useState<Line[]>([]);
  const [answer, setAnswer] = useState<PlotAnswer | null>(null);
  const [annotations, setAnnotations] = useState<Annotation[]>([]);
  const [picked, setPicked] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  // Read by the subscription's handler, so that a pause takes effect at the click, before
  // the subscription is stopped.
  const pausedNow = useRef(false);
  const [liveEnd, setLiveEnd] = useState<number | null>(null);
  const plotBox = useRef<HTMLDivElement>(null);
  const keys = view.keys.join("\n");

  // Only the latest search's answer is shown, whatever order the answers come in.
  const searches = useRef(0);
  async function find(text: string, filters: [string, string][]) {
    setError(null);
    const search = ++searches.current;
    try {
      const list = await call<SeriesList>(`${paths.series}?${seriesQuery(text, filters)}`);
      if (search === searches.current) setFound(list);
    } catch (e) {
      setError(errorText(e));
    }
  }

  const filters = view.filters.map((f) => f.join("=")).join("\n");
  useEffect(() => {
    if (view.query || view.filters.length) void find(view.query, view.filters);
  }, [filters]);

  // The series of the view, looked up by key (a shared URL holds only keys).
  useEffect(() => {
    const missing = view.keys.filter((k) => !info.has(k));
    if (!missing.length) return;
    void Promise.all(
      missing.map(async (key) => {
        const query = new URLSearchParams({ match: key, limit: "1000" });
        const list = await call<SeriesList>(`${paths.series}?${query}`);
        return list.series.find((s) => s.key === key);
      }),
    )
      .then((got) => {
        setInfo((old) => {
          const next = new Map(old);
          for (const s of got) if (s) next.set(s.key, s);
          return next;
        });
        const unknown = missing.filter((key) => !got.some((s) => s?.key === key));
        if (unknown.length) setError(`no series ${unknown.join(", ")}`);
      })
      .catch((e) => setError(errorText(e)));
  }, [keys]);

  const span = view.end - view.start;
  const width = () => Math.max(300, Math.round(plotBox.current?.clientWidth ?? document.body.clientWidth - 48));
  const answered = (a: PlotAnswer): Line[] =>
    a.series.map((s) => ({ key: s.key, t: s.t, v: s.v, dataType: s.data_type, channel: s.channel }));

  // A fixed range: its answer.
  useEffect(() => {
    if (!view.keys.length) {
      setLines([]);
      setAnswer(null);
      return;
    }
    if (view.live) return;
    const abort = new AbortController();
    setError(null);
    // Marks for measuring the time from asking to drawing (bench/console/plot.py).
    performance.mark("sextant:plot-request");
    fetchPlot(view.keys, view.start, view.end, width(), abort.signal)
      .then((a) => {
        setAnswer(a);
        setLines(answered(a));
        setLiveEnd(null);
      })
      .catch((e) => {
        if (!abort.signal.aborted) setError(errorText(e));
      });
    return () => abort.abort();
  }, [keys, view.start, view.end, view.live]);

  const shown = view.live && liveEnd !== null ? { start: liveEnd - span, end: liveEnd } : { start: view.start, end: view.end };

  // Annotations of the range shown.
  const loadAnnotations = useRef<() => void>(() => {});
  loadAnnotations.current = () => {
    const query = new URLSearchParams({ from: nanos(shown.start), to: nanos(shown.end + 1) });
    call<{ annotations: Annotation[] }>(`${paths.annotations}?${query}`)
      .then((a) => setAnnotations(a.annotations))
      .catch(() => setAnnotations([]));
  };
  useEffect(() => loadAnnotations.current(), [keys, view.start, view.end, view.live]);

  // Live: the subscription first, then the span up to now, then every point committed since,
  // the window sliding with the newest. The subscription sends every write committed after it
  // started, whatever its timestamp, and the answer asked for after that holds every write
  // committed before: no point falls between them, and one in both is drawn once.
  useEffect(() => {
    if (!view.live || paused || !view.keys.length) return;
    const series = view.keys.map((k) => info.get(k)).filter((s): s is SeriesInfo => !!s);
    if (series.length < view.keys.length) return;
    const abort = new AbortController();
    // Points that arrive before the answer, merged into it.
    let waiting: LivePoints[] | null = [];
    // New points may have opened or closed an annotation, which the rule engine writes just
    // after the points commit: look again half a second after points arrive, and once more
    // three seconds after the last of them. Nothing is asked while no point arrives.
    let soon: number | undefined;
    let later: number | undefined;
    const newest = (batch: LivePoints[]) => {
      let last = 0;
      for (const b of batch) for (const t of b.t) last = Math.max(last, t);
      return last;
    };
    const stop = subscribe(series, {
      onLive() {
        const end = Date.now();
        setError(null);
        performance.mark("sextant:plot-request");
        fetchPlot(view.keys, end - span, end, width(), abort.signal)
          .then((a) => {
            setAnswer(a);
            setLines(merge(answered(a), waiting ?? []));
            setLiveEnd(Math.max(end, newest(waiting ?? [])));
            waiting = null;
          })
          .catch((e) => {
            if (!abort.signal.aborted) setError(errorText(e));
          });
      },
      onPoints(batch: LivePoints[]) {
        // Points dropped while paused are in the answer asked for on resuming.
        if (pausedNow.current) return;
        if (waiting) {
          waiting.push(...batch);
          return;
        }
        // Points that slid out of the window are dropped, so a live plot holds one span.
        const end = Math.max(newest(batch), Date.now());
        setLines((old) => merge(old, batch, end - span));
        setLiveEnd((last) => Math.max(last ?? 0, end));
        if (soon === undefined) {
          soon = window.setTimeout(() => {
            soon = undefined;
            loadAnnotations.current();
          }, 500);
        }
        window.clearTimeout(later);
        later = window.setTimeout(() => loadAnnotations.current(), 3000);
      },
      onError: setError,
    });
    return () => {
      stop();
      abort.abort();
      window.clearTimeout(soon);
      window.clearTimeout(later);
    };
  }, [keys, view.live, paused, info, span]);

  function setView(change: Partial<View>, replace = false) {
    writeView({ ...view, ...change }, replace);
  }

  const points = answer?.series.reduce((n, s) => n + s.points, 0) ?? 0;
  return (
    <main class="explore">
      <section class="finder">
        <form
          id="search"
          onSubmit={(e) => {
            e.preventDefault();
            setView({ query: search }, true);
            void find(search, view.filters);
          }}
        >
          <input
            name="q"
            placeholder='Search series: words, or a selector such as cpu{host="h1"}'
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
          <button type="submit">Search</button>
        </form>
        {(view.filters.length > 0 || (found && found.series.length > 1)) && (
          <div class="facets" id="facets">
            {view.filters.map(([name, value]) => (
              <button
                key={`${name}=${value}`}
                class="chip on"
                title="remove this filter"
                onClick={() => setView({ filters: view.filters.filter(([n, v]) => n !== name || v !== value) }, true)}
              >
                {name}={value} ×
              </button>
            ))}
            {found &&
              facets(found.series)
                .filter(([name]) => !view.filters.some(([n]) => n === name))
                .map(([name, values]) => (
                  <span class="facet" key={name}>
                    <span class="type">{name}:</span>
                    {values.slice(0, 8).map(([value, count]) => (
                      <button
                        key={value}
                        class="chip"
                        onClick={() => setView({ filters: [...view.filters, [name, value]] }, true)}
                      >
                        {value} <span class="type">{count}</span>
                      </button>
                    ))}
                  </span>
                ))}
          </div>
        )}
        {found && (
          <ul class="found">
            {found.series.map((s) => (
              <li key={s.key}>
                <label>
                  <input
                    type="checkbox"
                    checked={view.keys.includes(s.key)}
                    onChange={(e) => {
                      setInfo(new Map(info).set(s.key, s));
                      const keys = e.currentTarget.checked ? [...view.keys, s.key] : view.keys.filter((k) => k !== s.key);
                      setView({ keys });
                    }}
                  />
                  <code>{s.key}</code> <span class="type">{s.data_type}</span>
                </label>
              </li>
            ))}
            {found.series.length === 0 && <li class="none">No series matches.</li>}
            {found.truncated && <li class="none">More match: narrow the search.</li>}
          </ul>
        )}
      </section>
      <section class="controls">
        {SPANS.map(([label, ms]) => (
          <button
            key={label}
            class={Math.abs(span - ms) < 1000 ? "on" : ""}
            onClick={() => {
              const end = view.live ? Date.now() : view.end;
              setView({ start: end - ms, end });
            }}
          >
            {label}
          </button>
        ))}
        {/* Pan by half the span, or zoom out to twice it around the same middle. */}
        <button id="pan-back" title="earlier" onClick={() => setView({ start: shown.start - span / 2, end: shown.end - span / 2, live: false })}>
          ◀
        </button>
        <button id="zoom-out" title="zoom out" onClick={() => setView({ start: shown.start - span / 2, end: shown.end + span / 2, live: false })}>
          −
        </button>
        <button id="pan-forward" title="later" onClick={() => setView({ start: shown.start + span / 2, end: shown.end + span / 2, live: false })}>
          ▶
        </button>
        <button
          id="live"
          class={view.live ? "on" : ""}
          onClick={() => {
            pausedNow.current = false;
            setPaused(false);
            const end = Date.now();
            setView({ live: !view.live, start: end - span, end });
          }}
        >
          Live
        </button>
        {view.live && (
          <button
            id="pause"
            onClick={() => {
              pausedNow.current = !paused;
              setPaused(!paused);
            }}
          >
            {paused ? "Resume" : "Pause"}
          </button>
        )}
        <span class="range">
          {new Date(shown.start).toISOString()} → {new Date(shown.end).toISOString()}
        </span>
      </section>
      <Alert error={error} />
      <div ref={plotBox}>
        {view.keys.length === 0 ? (
          <p class="hint">Search for series and tick them to plot them here.</p>
        ) : (
          <Plot
            lines={lines}
            annotations={annotations}
            range={shown}
            onZoom={(start, end) => setView({ start, end, live: false })}
            onReset={() => setView({ start: shown.start - span / 2, end: shown.end + span / 2, live: false })}
            onPick={(at) => setPicked(annotationAt(annotations, at)?.annotation_id ?? null)}
          />
        )}
      </div>
      {answer && (
        <p class="summary" id="summary">
          {points.toLocaleString()} {points === 1 ? "point" : "points"} in the range
          {answer.series.some((s) => s.sampled) ? ", drawn from each pixel column's first, lowest, highest and last" : ""}
          {answer.series.some((s) => s.truncated) ? "; some values are not drawn (text)" : ""}.
        </p>
      )}
      <AnnotationTable
        annotations={annotations}
        picked={picked}
        onPick={setPicked}
        onChanged={() => loadAnnotations.current()}
      />
    </main>
  );
}

/** `lines` with the points of `batch` added, in time order, a point at an instant already
 *  there left out, and the points before `from` dropped. */
export function merge(lines: Line[], batch: LivePoints[], from = -Infinity): Line[] {
  return lines.map((line) => {
    const more = batch.filter((b) => b.key === line.key);
    if (!more.length) return line;
    const points = line.t.map((t, i) => [t, line.v[i]] as const).filter(([t]) => t >= from);
    let sorted = true;
    for (const b of more) {
      b.t.forEach((t, i) => {
        if (points.length && t <= points[points.length - 1][0]) sorted = false;
        points.push([t, b.v[i]]);
      });
    }
    if (!sorted) points.sort((a, b) => a[0] - b[0]);
    const t: number[] = [];
    const v: Line["v"] = [];
    for (const [time, value] of points) {
      if (t.length && t[t.length - 1] === time) continue;
      t.push(time);
      v.push(value);
    }
    return { ...line, t, v };
  });
}
