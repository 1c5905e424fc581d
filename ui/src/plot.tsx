// One time axis for several series, drawn by uPlot. The server sends each series already
// downsampled to the plot's width (each pixel column's first, lowest, highest and last point),
// so a line through them is the line through every point. Dragging across the plot asks the
// server for the narrower range at full detail; a double click goes back.

import { useEffect, useRef } from "preact/hooks";
import uPlot, { type AlignedData, type Options } from "uplot";
import "uplot/dist/uPlot.min.css";

import type { Annotation, ChannelInfo } from "./api";
import { Lane, lanesOf, Y_AXIS_SIZE, type LaneSpec } from "./lanes";

/** A name for the cursor sync of each plot's chart and lanes. */
let plots = 0;

export interface Line {
  key: string;
  /** What the legend calls it; the key if not given. */
  label?: string;
  /** The series' data type; enums, bit fields and text are drawn as lanes. */
  dataType?: string;
  channel?: ChannelInfo;
  /** Milliseconds since the Unix epoch, ascending. */
  t: number[];
  v: (number | string | boolean | null)[];
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

/** A value as the plot draws it: numbers as they are, booleans as 0 and 1, text not at all. */
function drawable(v: Line["v"][number]): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}

/** The lines joined on one time axis (seconds, as uPlot counts), and how many points are drawn. */
export function align(lines: Line[]): { data: AlignedData; drawn: number } {
  let drawn = 0;
  const tables = lines.map((line) => {
    const xs: number[] = [];
    const ys: (number | null)[] = [];
    line.t.forEach((t, i) => {
      const y = drawable(line.v[i]);
      if (y === null) return;
      xs.push(t / 1000);
      ys.push(y);
      drawn++;
    });
    return [xs, ys] as AlignedData;
  });
  if (tables.length === 0) return { data: [[]], drawn };
  return { data: uPlot.join(tables), drawn };
}

export interface PlotProps {
  lines: Line[];
  annotations: Annotation[];
  /** The range shown, milliseconds. */
  range: { start: number; end: number };
  onZoom(start: number, end: number): void;
  onReset(): void;
  /** A click that was no drag, at this time (milliseconds). */
  onPick?(at: number): void;
  height?: number;
}

export function Plot(props: PlotProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const sync = useRef(`plot-${++plots}`);
  // Numbers on the chart, states and text in lanes under it.
  const lanes: LaneSpec[] = [];
  const numeric: Line[] = [];
  for (const line of props.lines) {
    const own = lanesOf(line.key, line.label ?? line.key, line.dataType ?? "double", line.channel, line.t, line.v);
    if (own.length) lanes.push(...own);
    else numeric.push(line);
  }
  // The handlers and annotations as of the last render, read by uPlot's hooks.
  const latest = useRef({ ...props, lines: numeric });
  latest.current = { ...props, lines: numeric };
  const keys = numeric.map((l) => l.key).join("\n");

  // A new uPlot whenever the set of lines changes; new data otherwise.
  useEffect(() => {
    const el = box.current;
    if (!el || !latest.current.lines.length) return;
    const { data } = align(latest.current.lines);
    // Whether the last press of the button dragged a selection (a zoom, not a click).
    let dragged = false;
    const options: Options = {
      width: Math.max(el.clientWidth, 300),
      height: props.height ?? 360,
      series: [
        {},
        ...latest.current.lines.map((line, i) => ({
          label: line.label ?? line.key,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      scales: { x: { time: true } },
      axes: [{}, { size: Y_AXIS_SIZE }],
      cursor: { sync: { key: sync.current }, drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            dragged = true;
            const start = u.posToVal(u.select.left, "x") * 1000;
            const end = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            latest.current.onZoom(start, end);
          },
        ],
        drawClear: [(u) => shade(u, latest.current.annotations)],
        ready: [
          (u) => {
            u.over.addEventListener("dblclick", () => latest.current.onReset());
            u.over.addEventListener("mousedown", () => (dragged = false));
            u.over.addEventListener("click", () => {
              const left = u.cursor.left ?? -1;
              if (!dragged && left >= 0) latest.current.onPick?.(u.posToVal(left, "x") * 1000);
            });
          },
        ],
      },
    };
    const u = new uPlot(options, data, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 300), height: u.height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [keys]);

  const { data, drawn } = align(numeric);
  const laneValues = lanes.reduce((n, l) => n + l.v.filter((v) => v !== null).length, 0);
  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(data, false);
    u.setScale("x", { min: props.range.start / 1000, max: props.range.end / 1000 });
    // The next frame shows what was drawn.
    if (drawn > 0) requestAnimationFrame(() => performance.mark("sextant:plot-drawn"));
  });

  return (
    <div
      class="plot"
      data-points={drawn + laneValues}
      data-annotations={props.annotations.length}
      data-start={props.range.start}
      data-end={props.range.end}
    >
      {numeric.length > 0 && <div class="chart" ref={box} />}
      {lanes.map((lane) => (
        <Lane key={lane.key} lane={lane} range={props.range} sync={sync.current} onZoom={props.onZoom} />
      ))}
    </div>
  );
}

/** Shades each annotation's time range across the plotting area, under the lines. */
function shade(u: uPlot, annotations: Annotation[]) {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  for (const a of annotations) {
    const from = u.valToPos(a.start_time / 1e9, "x", true);
    const end = a.end_time === null ? u.scales.x.max ?? 0 : a.end_time / 1e9;
    const to = u.valToPos(end, "x", true);
    const x0 = Math.max(left, Math.min(from, to));
    const x1 = Math.min(left + width, Math.max(from, to));
    if (x1 <= x0) continue;
    ctx.fillStyle = a.state === "resolved" ? "rgba(22,163,74,0.12)" : "rgba(234,88,12,0.18)";
    ctx.fillRect(x0, top, Math.max(x1 - x0, 2), height);
  }
  ctx.restore();
}
