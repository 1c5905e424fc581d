// The annotations of a plot's range as a table, each reviewable in place: its state, its
// assignee and its tags. Clicking a shaded range on the plot picks its row.

import { useEffect, useState } from "preact/hooks";

import { call, paths, type Annotation } from "./api";
import { errorText } from "./alert";

interface User {
  user_id: string;
  name: string;
}

const STATES = ["open", "flagged", "resolved"];

export function AnnotationTable(props: {
  annotations: Annotation[];
  picked: string | null;
  onPick(id: string | null): void;
  onChanged(): void;
}) {
  const [users, setUsers] = useState<User[]>([]);
  const any = props.annotations.length > 0;
  useEffect(() => {
    // Users name the assignees; a key that may not list them still sees the annotations.
    if (!any) return;
    call<{ users: User[] }>(paths.users)
      .then((u) => setUsers(u.users))
      .catch(() => setUsers([]));
  }, [any]);
  if (props.annotations.length === 0) return null;
  const name = (id: string | null) => users.find((u) => u.user_id === id)?.name ?? id ?? "";
  return (
    <table class="annotations" id="annotations">
      <thead>
        <tr>
          <th>Annotation</th>
          <th>Start</th>
          <th>End</th>
          <th>State</th>
          <th>Assignee</th>
          <th>Tags</th>
        </tr>
      </thead>
      <tbody>
        {props.annotations.map((a) =>
          a.annotation_id === props.picked ? (
            <Review key={a.annotation_id} annotation={a} users={users} onDone={props.onChanged} onClose={() => props.onPick(null)} />
          ) : (
            <tr key={a.annotation_id} class="annotation" onClick={() => props.onPick(a.annotation_id)}>
              <td>{a.name}</td>
              <td>{new Date(a.start_time / 1e6).toISOString()}</td>
              <td>{a.end_time === null ? "open" : new Date(a.end_time / 1e6).toISOString()}</td>
              <td>{a.state}</td>
              <td>{name(a.assignee_user_id)}</td>
              <td>{a.tags.join(", ")}</td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}

function Review(props: { annotation: Annotation; users: User[]; onDone(): void; onClose(): void }) {
  const a = props.annotation;
  const [state, setState] = useState(a.state);
  const [assignee, setAssignee] = useState(a.assignee_user_id ?? "");
  const [tags, setTags] = useState(a.tags.join(", "));
  const [error, setError] = useState<string | null>(null);
  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call(`${paths.annotations}/${encodeURIComponent(a.annotation_id)}`, {
        method: "PATCH",
        body: {
          state,
          assignee_user_id: assignee || null,
          tags: tags
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean),
        },
      });
      props.onDone();
      props.onClose();
    } catch (err) {
      setError(errorText(err));
    }
  }
  return (
    <tr class="annotation picked">
      <td>{a.name}</td>
      <td>{new Date(a.start_time / 1e6).toISOString()}</td>
      <td>{a.end_time === null ? "open" : new Date(a.end_time / 1e6).toISOString()}</td>
      <td colSpan={3}>
        <form class="review" onSubmit={save}>
          <select name="state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <select name="assignee" value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)}>
            <option value="">nobody</option>
            {props.users.map((u) => (
              <option key={u.user_id} value={u.user_id}>
                {u.name}
              </option>
            ))}
          </select>
          <input name="tags" placeholder="tags, comma separated" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
          <button type="submit">Save</button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          {error && <span class="error">{error}</span>}
        </form>
      </td>
    </tr>
  );
}

/** The annotation whose range holds `ms`, the latest to start if several do. */
export function annotationAt(annotations: Annotation[], ms: number): Annotation | undefined {
  const ns = ms * 1e6;
  return annotations
    .filter((a) => a.start_time <= ns && (a.end_time === null || ns < a.end_time))
    .sort((x, y) => y.start_time - x.start_time)[0];
}
