/**
 * Reading a JSON body from a server we do not control (a doorway, a Rust storage node): the
 * body is read only up to a cap, whatever it declares (a chunked body declares nothing), so a
 * broken or hostile server cannot make us buffer more. Shared by the browser's doorway client
 * and the doorway's bridge.
 */
import { ElohimError } from '../wire/index.ts';

/** The body was larger than the reader's cap; what was read of it is dropped. */
export class BodyTooLargeError extends ElohimError.named('BodyTooLargeError') {
  constructor(readonly maxBytes: number) {
    super(
      `The server sent more than ${maxBytes} bytes where a small JSON answer was expected: it is not the server asked for, or a broken one.`,
    );
  }
}

/**
 * The JSON body of `response`, or null when it has none. A declared `Content-Length` over
 * `maxBytes` is refused before a byte is read; otherwise reading stops (and the rest of the
 * body is cancelled) as soon as it passes `maxBytes`. Both throw {@link BodyTooLargeError}.
 * Invalid JSON throws the `SyntaxError` of `JSON.parse`.
 */
export async function readCappedJson(response: Response, maxBytes: number): Promise<unknown> {
  if (!response.body) return null;
  if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
    await response.body.cancel();
    throw new BodyTooLargeError(maxBytes);
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}
