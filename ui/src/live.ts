// A live subscription read over Server-Sent Events with `fetch`, so that the key travels in
// the authorization header (EventSource cannot send one). See docs/subscriptions.md.

import { paths, storedKey, type SeriesInfo } from "./api";
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

/**
 * Subscribes to the points of `series` committed from now on, whatever their timestamps;
 * returns the function that stops it. Each key is also a selector (its name and labels), which may select series with
 * further labels: only the exact keys are passed on.
 */
export function subscribe(series: SeriesInfo[], handlers: LiveHandlers): () => void {
  const abort = new AbortController();
  const wanted = new Map(series.map((s) => [identity(s.name, s.labels), s.key]));
  let waiting = series.length;
  const live = () => {
    waiting -= 1;
    if (waiting === 0) handlers.onLive();
  };
  for (const s of series) {
    void follow(s.key, wanted, live, handlers, abort.signal);
  }
  return () => abort.abort();
}

async function follow(
  selector: string,
  wanted: Map<string, string>,
  live: () => void,
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
  try {
    await readEvents(response.body, ({ data }) => {
      const message = JSON.parse(data);
      switch (message.type) {
        case "live":
          live();
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
          handlers.onError(`the live subscription ended: ${message.message ?? message.reason}`);
          return false;
      }
    });
  } catch (e) {
    if (!signal.aborted) handlers.onError(`the live subscription failed: ${e}`);
  }
}
