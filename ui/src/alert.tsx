// How a page shows what went wrong: one line, announced to screen readers.

/** The message of a thrown value: an error's own, anything else as text. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `error`, if there is one, as the page's alert line. */
export function Alert(props: { error: string | null }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}
