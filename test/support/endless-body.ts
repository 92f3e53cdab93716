/** A request body that never ends on its own, written until the server answers: what a body limit must cut short. */

import type { ClientRequest, IncomingMessage } from 'node:http';

/**
 * Writes `chunk` to `req` (chunked, not ended) until the server answers or `cap` chunks have gone out; the answer, if
 * any, and how many chunks were written. The caller listens for `error` on `req` (the server may close mid-write).
 */
export async function writeUntilAnswered(req: ClientRequest, chunk: Buffer, cap: number): Promise<{ response: IncomingMessage | undefined; written: number; answered: Promise<IncomingMessage> }> {
  const answered = new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
  let written = 0;
  let response: IncomingMessage | undefined;
  while (!response && written < cap) {
    const flushed = new Promise<undefined>((resolve) => req.write(chunk, () => resolve(undefined)));
    response = await Promise.race([answered, flushed]);
    written++;
  }
  return { response, written, answered };
}
