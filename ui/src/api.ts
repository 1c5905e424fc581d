// Calls to Sextant's own HTTP APIs with the signed-in key. The console holds no data of its
// own: everything it shows comes from these calls, with the key's scopes.

const KEY = "sextant.key";
const SESSION = "sextant.session";

/** The window event sent when the signed-in key is refused. */
export const SIGNED_OUT = "sextant:signed-out";

export function storedKey(): string | null {
  return localStorage.getItem(KEY);
}

/** Keeps `key` for the next visits, or forgets it; `session` marks a key a login gave. */
export function storeKey(key: string | null, session = false): void {
  if (key === null) {
    localStorage.removeItem(KEY);
    localStorage.removeItem(SESSION);
  } else {
    localStorage.setItem(KEY, key);
    if (session) localStorage.setItem(SESSION, "1");
    else localStorage.removeItem(SESSION);
  }
}

/** Signs out: a session a login gave is ended on the server too; an API key stays valid. */
export async function signOut(): Promise<void> {
  if (localStorage.getItem(SESSION) !== null) {
    await call(paths.session, { method: "DELETE" }).catch(() => undefined);
  }
  storeKey(null);
}

/** A refusal or failure, with the server's message (`{"error": "..."}`) and status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function failure(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
    else if (body && typeof body.message === "string") message = body.message;
  } catch {
    // Not JSON: the status says what there is to say.
  }
  return new ApiError(response.status, message);
}

/** After an answer of `status` to a call with the stored key: a 401 means the key stopped
 *  working (revoked, expired), and the console goes back to the sign-in page. */
export function refusedKey(status: number): void {
  if (status === 401 && storedKey() !== null) {
    storeKey(null);
    window.dispatchEvent(new Event(SIGNED_OUT));
  }
}

/** Calls `path` with the stored key; JSON in and out. */
export async function call<T>(
  path: string,
  init: { method?: string; body?: unknown; key?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  const key = init.key ?? storedKey();
  if (key) headers["authorization"] = `Bearer ${key}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (!response.ok) {
    if (init.key === undefined) refusedKey(response.status);
    throw await failure(response);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const paths = {
  whoami: "/api/native/v1/whoami",
  series: "/api/native/v1/series",
  plot: "/api/native/v1/plot",
  annotations: "/api/native/v1/annotations",
  keys: "/api/native/v1/keys",
  users: "/api/native/v1/users",
  subscribe: "/api/native/v1/subscribe",
  runs: "/api/native/v1/runs",
  rules: "/api/native/v1/rules",
  assets: "/api/native/v1/assets",
  collections: "/api/native/v1/collections",
  files: "/api/native/v1/files",
  session: "/v2/session",
};

export interface Whoami {
  organization_id: string;
  key_id: string;
  key_name: string;
  scopes: string[];
}

export interface SeriesInfo {
  key: string;
  name: string;
  labels: Record<string, string>;
  data_type: string;
}

export interface SeriesList {
  series: SeriesInfo[];
  truncated: boolean;
}

export interface PlotSeries {
  key: string;
  data_type: string;
  /** Points of the series in the range. */
  points: number;
  /** Whether `t` and `v` are each pixel column's first, lowest, highest and last point. */
  sampled: boolean;
  /** Whether points were left out (values that are not numbers, past the answer's limit). */
  truncated: boolean;
  /** Milliseconds since the Unix epoch. */
  t: number[];
  v: (number | string | boolean | null)[];
  /** The channel's declaration, when the series is a channel its asset declared. */
  channel?: ChannelInfo;
}

export interface ChannelInfo {
  unit: string;
  enum_types?: { key: number; name: string }[];
  bit_field_elements?: { name: string; index: number; bit_count: number }[];
}

export interface Plot {
  /** Nanoseconds since the Unix epoch. */
  start: number;
  end: number;
  /** The width of each pixel column, nanoseconds. */
  bucket: number;
  series: PlotSeries[];
}

export interface Annotation {
  annotation_id: string;
  name: string;
  description: string;
  start_time: number;
  end_time: number | null;
  state: string;
  annotation_type: string;
  rule_id: string | null;
  tags: string[];
  assignee_user_id: string | null;
}

export interface ApiKey {
  key_id: string;
  name: string;
  scopes: string[];
  created_at: number;
  revoked: boolean;
}

/** Milliseconds to the nanoseconds the native API takes, as exact decimal text. */
export function nanos(ms: number): string {
  return `${Math.round(ms)}000000`;
}

/** The points of `keys` in `[start, end)` (milliseconds), sampled to `width` pixel columns. */
export function fetchPlot(keys: string[], start: number, end: number, width: number, signal?: AbortSignal): Promise<Plot> {
  const body = { series: keys, start: Math.round(start) * 1e6, end: Math.round(end) * 1e6, width: Math.round(width) };
  return call<Plot>(paths.plot, { method: "POST", body, signal });
}

export interface RunInfo {
  run_id: string;
  name: string;
  description: string;
  tags: string[];
  start_time: number | null;
  stop_time: number | null;
  assets: string[];
  /** The first and last timestamps of its data, nanoseconds (one run's answer only). */
  data_range?: [number, number];
}

export interface FileInfo {
  file_id: string;
  file_name: string;
  mime_type: string;
  size: number;
  created_at: number;
  /** Downloads the file without a key (signed for an hour). */
  download_path: string;
}
