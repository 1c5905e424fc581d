// Values that are states rather than magnitudes, drawn as lanes under the plot on its time
// axis: an enum channel as labelled steps (each value holds until the next point), a bit
// field as one such lane per element, text as a marker at each point. The cursor moves with
// the plot's and the legend reads out the value under it.

import { useEffect, useRef } from "preact/hooks";
import uPlot, { type Options } from "uplot";

import type { ChannelInfo } from "./api";

/** The width of the chart's value axis, in CSS pixels; lanes leave the same room. */
export const Y_AXIS_SIZE = 60;

export interface LaneSpec {
  key: string;
  label: string;
  kind: "steps" | "markers";
  /** Milliseconds since the Unix epoch, ascending. */
  t: number[];
  /** The value of each point, as text. */
  v: (string | null)[];
}

const PALETTE = ["#bfdbfe", "#fecaca", "#bbf7d0", "#e9d5ff", "#fed7aa", "#a5f3fc", "#fef08a", "#fbcfe8"];

/** The lanes of one series: none for numbers. */
export function lanesOf(
  key: string,
  label: string,
  dataType: string,
  channel: ChannelInfo | undefined,
  t: number[],
  v: (number | string | boolean | null)[],
): LaneSpec[] {
  if (dataType === "enum") {
    const names = new Map((channel?.enum_types ?? []).map((e) => [e.key, e.name]));
    const text = v.map((x) => (typeof x === "number" ? (names.get(x) ?? String(x)) : null));
    return [{ key, label, kind: "steps", t, v: text }];
  }
  if (dataType === "bit_field") {
    const elements = channel?.bit_field_elements ?? [];
    if (!elements.length) return [{ key, label, kind: "steps", t, v: v.map((x) => (x === null ? null : String(x))) }];
    return elements.map((e) => ({
      key: `${key}#${e.name}`,
      label: `${label} ${e.name}`,
      kind: "steps" as const,
      t,
      // Fields of bit fields are at most 64 bits wide; values beyond 2^53 lose their lowest
      // bits in the browser, which only fields above bit 52 would show.
      v: v.map((x) => (typeof x === "number" ? String(Math.floor(x / 2 ** e.index) % 2 ** e.bit_count) : null)),
    }));
  }
  if (dataType === "string") {
    return [{ key, label, kind: "markers", t, v: v.map((x) => (typeof x === "string" ? x : null)) }];
  }
  return [];
}

export function Lane(props: {
  lane: LaneSpec;
  range: { start: number; end: number };
  sync: string;
  onZoom(start: number, end: number): void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const { lane } = latest.current;
    const colors = new Map<string, string>();
    const color = (value: string) => {
      if (!colors.has(value)) colors.set(value, PALETTE[colors.size % PALETTE.length]);
      return colors.get(value)!;
    };
    const options: Options = {
      width: Math.max(el.clientWidth, 300),
      height: 64,
      padding: [4, 8, 0, 0],
      series: [
        {},
        {
          label: lane.label,
          stroke: "#374151",
          paths: () => null,
          points: { show: false },
          value: (_u, _v, _s, i) => (i === null || i === undefined ? "--" : (latest.current.lane.v[i] ?? "--")),
        },
      ],
      // An empty axis as wide as the chart's, so that lanes and chart share one time axis.
      axes: [{ show: false }, { size: Y_AXIS_SIZE, values: () => [], ticks: { show: false }, grid: { show: false } }],
      scales: { x: { time: true }, y: { range: [0, 1] } },
      cursor: {
        sync: { key: props.sync },
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
        // A step's value holds until the next point: read out the last point at or before the
        // cursor, not the nearest.
        dataIdx: (u, _series, closest, x) => {
          if (latest.current.lane.kind !== "steps") return closest;
          const xs = u.data[0];
          let lo = 0;
          let hi = xs.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (xs[mid] <= x) lo = mid + 1;
            else hi = mid;
          }
          return Math.max(lo - 1, 0);
        },
      },
      legend: { live: true },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const start = u.posToVal(u.select.left, "x") * 1000;
            const end = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            latest.current.onZoom(start, end);
          },
        ],
        draw: [(u) => paint(u, latest.current.lane, color)],
      },
    };
    const u = new uPlot(options, laneData(lane), el);
    plot.current = u;
    u.setScale("x", { min: latest.current.range.start / 1000, max: latest.current.range.end / 1000 });
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 300), height: u.height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [props.lane.key]);

  // New points (live) and a new range redraw the lane; it is made once.
  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(laneData(props.lane), false);
    u.setScale("x", { min: props.range.start / 1000, max: props.range.end / 1000 });
  }, [signature(props.lane), props.range.start, props.range.end]);

  const values = props.lane.v.filter((x) => x !== null).length;
  return <div class="lane" ref={box} data-key={props.lane.key} data-values={values} />;
}

/** The lane's values: a band per step from one point to the next, or a tick per marker. */
function paint(u: uPlot, lane: LaneSpec, color: (v: string) => string) {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  // uPlot leaves the alignment of its last axis label set.
  ctx.textAlign = "left";
  const x = (ms: number) => u.valToPos(ms / 1000, "x", true);
  for (let i = 0; i < lane.t.length; i++) {
    const value = lane.v[i];
    if (value === null) continue;
    const x0 = x(lane.t[i]);
    if (lane.kind === "steps") {
      // A run of equal values is one band.
      let j = i + 1;
      while (j < lane.t.length && lane.v[j] === value) j++;
      // The last value holds to the end of the range shown, or to now if that is sooner.
      const last = Math.min((u.scales.x.max ?? 0) * 1000, Date.now());
      const x1 = j < lane.t.length ? x(lane.t[j]) : x(Math.max(last, lane.t[j - 1]));
      ctx.fillStyle = color(value);
      ctx.fillRect(x0, top + 2, Math.max(x1 - x0, 2), height - 4);
      ctx.fillStyle = "#111827";
      if (x1 - x0 > ctx.measureText(value).width + 8) ctx.fillText(value, x0 + 4, top + height / 2);
      i = j - 1;
    } else {
      ctx.fillStyle = "#7c3aed";
      ctx.fillRect(x0 - 1, top + 2, 2, height - 4);
      const next = i + 1 < lane.t.length ? x(lane.t[i + 1]) : left + width;
      ctx.fillStyle = "#111827";
      if (next - x0 > ctx.measureText(value).width + 10) ctx.fillText(value, x0 + 4, top + height / 2);
    }
  }
  ctx.restore();
}

/** A lane's points as uPlot takes them: seconds, and a value it does not draw. */
function laneData(lane: LaneSpec): uPlot.AlignedData {
  return [lane.t.map((t) => t / 1000), lane.v.map(() => 0.5)];
}

/** What identifies a lane's drawing: its series, and how many points up to which instant. */
function signature(lane: LaneSpec): string {
  return `${lane.key}|${lane.t.length}|${lane.t[lane.t.length - 1] ?? ""}`;
}
