// A live subscription read over Server-Sent Events with `fetch`, so that the key travels in
// the authorization header (EventSource cannot send one). See docs/subscriptions.md.

import { paths, refusedKey, storedKey, type SeriesInfo } from "./api";
import { readEvents } from "./sse";

export interface LivePoints {
  key: string;
  /** Milliseconds since the Unix epoch. */
  t: number[];
  v: (number | string | boolean | null)[];
}

export interface LiveHandlers {
  /** Every subscription is in place: each write committed from now on will come. */
  onLive(): void;
  onPoints(points: LivePoints[]): void;
  onError(message: string): void;
}

/** A series' identity to compare by: its name and its labels, sorted. */
function identity(name: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((label) => [label, labels[label]]);
  return JSON.stringify([name, sorted]);
}

/** `values` as an anchored regular expression matching exactly them. */
function alternation(values: string[]): string {
  return [...new Set(values)].map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
}

/**
 * One selector selecting every series of `series`: their names, and each label every one of
 * them has, by its values. It may select more (other combinations of those values): only the
 * exact series are passed on.
 */
export function selectorOf(series: SeriesInfo[]): string {
  const conditions = [`__name__=~${JSON.stringify(alternation(series.map((s) => s.name)))}`];
  const shared = Object.keys(series[0]?.labels ?? {}).filter((label) => series.every((s) => label in s.labels));
  for (const label of shared.sort()) {
    conditions.push(`${label}=~${JSON.stringify(alternation(series.map((s) => s.labels[label])))}`);
  }
  return `{${conditions.join(",")}}`;
}

/**
 * Subscribes to the points of `series` committed from now on, whatever their timestamps, over
 * one connection (browsers open only six to a server over HTTP/1.1); returns the function that
 * stops it. The stream ending for any reason but the stop is an error.
 */
export function subscribe(series: SeriesInfo[], handlers: LiveHandlers): () => void {
  const abort = new AbortController();
  const wanted = new Map(series.map((s) => [identity(s.name, s.labels), s.key]));
  void follow(selectorOf(series), wanted, handlers, abort.signal);
  return () => abort.abort();
}

async function follow(
  selector: string,
  wanted: Map<string, string>,
  handlers: LiveHandlers,
  signal: AbortSignal,
): Promise<void> {
  const query = new URLSearchParams({ selector });
  const headers: Record<string, string> = { accept: "text/event-stream" };
  const key = storedKey();
  if (key) headers["authorization"] = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(`${paths.subscribe}?${query}`, { headers, signal });
  } catch (e) {
    if (!signal.aborted) handlers.onError(`the live subscription failed: ${e}`);
    return;
  }
  if (!response.ok || !response.body) {
    refusedKey(response.status);
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error ?? message;
    } catch {
      // The status says it.
    }
    handlers.onError(`the live subscription was refused: ${message}`);
    return;
  }
  const names = new Map<number, string>();
  let ended = false;
  try {
    await readEvents(response.body, ({ data }) => {
      const message = JSON.parse(data);
      switch (message.type) {
        case "live":
          handlers.onLive();
          break;
        case "series":
          names.set(message.id, identity(message.name, message.labels));
          break;
        case "points": {
          const batch: LivePoints[] = [];
          for (const s of message.series as { id: number; timestamps: number[]; values: LivePoints["v"] }[]) {
            const id = names.get(s.id);
            const key = id === undefined ? undefined : wanted.get(id);
            if (key === undefined) continue;
            batch.push({ key, t: s.timestamps.map((ns) => ns / 1e6), v: s.values });
          }
          if (batch.length) handlers.onPoints(batch);
          break;
        }
        case "error":
        case "closed":
          ended = true;
          handlers.onError(`the live subscription ended: ${message.message ?? message.reason}`);
          return false;
      }
    });
    // The connection closed with no word from the server (a restart, a proxy's timeout).
    if (!ended && !signal.aborted) handlers.onError("the live subscription ended: the connection closed");
  } catch (e) {
    if (!signal.aborted) handlers.onError(`the live subscription failed: ${e}`);
  }
}
