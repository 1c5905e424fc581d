// Reads a Server-Sent Events body record by record: `event:` and `data:` lines, a blank line
// ending each record (https://html.spec.whatwg.org/multipage/server-sent-events.html).

export interface EventRecord {
  event: string;
  data: string;
}

/** Calls `onRecord` for each record of `body` until it ends; `false` from it stops reading. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  onRecord: (record: EventRecord) => boolean | void,
): Promise<void> {
  const reader = body.getReader();
  const text = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += text.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const lines = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of lines) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length && onRecord({ event, data: data.join("\n") }) === false) {
          await reader.cancel();
          return;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}
