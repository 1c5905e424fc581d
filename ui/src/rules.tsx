// Rules: each rule with its assets, whether it runs live and how many annotations it has;
// and an expression evaluated over stored data of one asset, its ranges shaded on a plot of
// the channels it reads.

import { useEffect, useRef, useState } from "preact/hooks";

import { call, fetchPlot, paths, type Annotation, type SeriesList } from "./api";
import { Plot, type Line } from "./plot";
import { Alert, errorText } from "./alert";

interface RuleStatus {
  rule_id: string;
  name: string;
  expression: string;
  channel_references: Record<string, string>;
  assets: string[];
  status: string;
  annotations: { open: number; flagged: number; resolved: number };
}

interface HeldRange {
  start: number;
  end: number | null;
}

const SPANS: [string, number][] = [
  ["last hour", 3600e3],
  ["last day", 24 * 3600e3],
  ["last week", 7 * 24 * 3600e3],
  ["from … to …", 0],
];

/** A `datetime-local` input's value for `ms`, in the browser's time zone. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

export function Rules() {
  const [rules, setRules] = useState<RuleStatus[]>([]);
  const [assets, setAssets] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const fail = (e: unknown) => setError(errorText(e));
  useEffect(() => {
    call<{ rules: RuleStatus[] }>(`${paths.rules}/status`)
      .then((r) => setRules(r.rules))
      .catch(fail);
    call<{ assets: { name: string }[] }>(paths.assets)
      .then((a) => setAssets(a.assets.map((x) => x.name)))
      .catch(fail);
  }, []);

  return (
    <main class="rules">
      <h2>Rules</h2>
      <Alert error={error} />
      {rules.length === 0 ? (
        <p class="hint">No rule yet: Sift telemetry configs, rule modules and the SDK create them.</p>
      ) : (
        <table id="rules">
          <thead>
            <tr>
              <th>Rule</th>
              <th>Expression</th>
              <th>Assets</th>
              <th>Status</th>
              <th>Open</th>
              <th>Flagged</th>
              <th>Resolved</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.rule_id}>
                <td>{r.name}</td>
                <td>
                  <code>{r.expression}</code>{" "}
                  <span class="type">
                    {Object.entries(r.channel_references)
                      .map(([k, v]) => `${k} = ${v}`)
                      .join(", ")}
                  </span>
                </td>
                <td>{r.assets.join(", ")}</td>
                <td class={`status ${r.status}`}>{r.status}</td>
                <td>{r.annotations.open}</td>
                <td>{r.annotations.flagged}</td>
                <td>{r.annotations.resolved}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Evaluate rules={rules} assets={assets} />
    </main>
  );
}

function Evaluate(props: { rules: RuleStatus[]; assets: string[] }) {
  const [ruleId, setRuleId] = useState("");
  const [expression, setExpression] = useState("$1 > 0");
  const [channel, setChannel] = useState("");
  const [asset, setAsset] = useState("");
  const [span, setSpan] = useState(SPANS[1][1]);
  const [from, setFrom] = useState(() => localInput(Date.now() - 24 * 3600e3));
  const [to, setTo] = useState(() => localInput(Date.now()));
  const [ranges, setRanges] = useState<HeldRange[] | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [range, setRange] = useState<{ start: number; end: number } | null>(null);
  // The range evaluated, which a double click on the plot goes back to.
  const [evaluated, setEvaluated] = useState<{ start: number; end: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const chosenAsset = asset || props.assets[0] || "";
  const rule = props.rules.find((r) => r.rule_id === ruleId);

  async function evaluate(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      // A span back from now, or the range typed (in the browser's time zone).
      const end = span ? Date.now() : new Date(to).getTime();
      const start = span ? end - span : new Date(from).getTime();
      if (!(start < end)) throw new Error(`the range's start ${from} is not before its end ${to}`);
      const references = rule ? rule.channel_references : { $1: channel.trim() };
      const answer = await call<{ ranges: HeldRange[] }>(`${paths.rules}/eval`, {
        method: "POST",
        body: {
          ...(rule
            ? { rule_key: rule.rule_id }
            : { rule: { name: "expression", expression, channel_references: references } }),
          asset: chosenAsset,
          start: start * 1e6,
          end: end * 1e6,
        },
      });
      // The channels the expression reads, as this asset sent them without a run.
      const keys: string[] = [];
      for (const name of Object.values(references)) {
        const match = `${name}{asset=${JSON.stringify(chosenAsset)}}`;
        const found = await call<SeriesList>(`${paths.series}?${new URLSearchParams({ match, limit: "10" })}`);
        const exact = found.series.find((s) => Object.keys(s.labels).length === 1);
        if (exact) keys.push(exact.key);
      }
      const width = Math.max(300, box.current?.clientWidth ?? document.body.clientWidth - 48);
      const plot = keys.length ? await fetchPlot(keys, start, end, width) : null;
      setLines(plot ? plot.series.map((s) => ({ key: s.key, t: s.t, v: s.v })) : []);
      setRange({ start, end });
      setEvaluated({ start, end });
      setRanges(answer.ranges);
    } catch (err) {
      setError(errorText(err));
    }
  }

  // The ranges drawn as the plot draws annotations.
  const shaded: Annotation[] = (ranges ?? []).map((r, i) => ({
    annotation_id: `held-${i}`,
    name: "held",
    description: "",
    start_time: r.start,
    end_time: r.end,
    state: "open",
    annotation_type: "review",
    rule_id: null,
    tags: [],
    assignee_user_id: null,
  }));

  return (
    <section class="evaluate">
      <h2>Evaluate over stored data</h2>
      <form id="evaluate" onSubmit={evaluate}>
        <select name="rule" value={ruleId} onChange={(e) => setRuleId(e.currentTarget.value)}>
          <option value="">this expression:</option>
          {props.rules.map((r) => (
            <option key={r.rule_id} value={r.rule_id}>
              rule {r.name}
            </option>
          ))}
        </select>
        {!rule && (
          <>
            <input name="expression" value={expression} onInput={(e) => setExpression(e.currentTarget.value)} />
            <label>
              $1 ={" "}
              <input
                name="channel"
                placeholder="channel, e.g. motor.temperature"
                value={channel}
                onInput={(e) => setChannel(e.currentTarget.value)}
              />
            </label>
          </>
        )}
        <select name="asset" value={chosenAsset} onChange={(e) => setAsset(e.currentTarget.value)}>
          {props.assets.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
        <select name="span" value={String(span)} onChange={(e) => setSpan(Number(e.currentTarget.value))}>
          {SPANS.map(([label, ms]) => (
            <option key={label} value={String(ms)}>
              {label}
            </option>
          ))}
        </select>
        {span === 0 && (
          <>
            <input name="from" type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
            <input name="to" type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </>
        )}
        <button type="submit" disabled={!chosenAsset}>
          Evaluate
        </button>
      </form>
      <Alert error={error} />
      <div ref={box}>
        {range && lines.length > 0 && (
          <Plot lines={lines} annotations={shaded} range={range} onZoom={(start, end) => setRange({ start, end })} onReset={() => setRange(evaluated)} />
        )}
      </div>
      {ranges && (
        <p id="held" class="summary">
          {ranges.length === 0
            ? "It never held in this range."
            : `It held ${ranges.length} ${ranges.length === 1 ? "time" : "times"}: ` +
              ranges
                .map((r) => `${new Date(r.start / 1e6).toISOString()} → ${r.end === null ? "the end" : new Date(r.end / 1e6).toISOString()}`)
                .join("; ")}
        </p>
      )}
    </section>
  );
}
