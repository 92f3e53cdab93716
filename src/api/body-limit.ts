/** Reading a request body up to a size limit: 413 `body-too-large` by Content-Length before reading, or once passed. */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { problem } from './problem.ts';

export interface BodyLimit {
  /** The most bytes accepted. */
  bytes: number;
  /** What the body is, for the problem's detail: "the upload", "the body". */
  what: string;
  /** The limit as a person reads it: "64 MiB". */
  shown: string;
}

export type BoundedBody = { ok: true; bytes: Buffer } | { ok: false; response: HttpResponseInit };

/** The body's bytes; a body above the limit is refused by its Content-Length, or as soon as more than that arrived. */
export async function readBoundedBody(request: HttpRequest, limit: BodyLimit): Promise<BoundedBody> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit.bytes) return tooLarge(`${limit.what}'s Content-Length is ${declared} bytes`, limit);
  const bytes = await readAtMost(request, limit.bytes);
  if (!bytes) return tooLarge(`${limit.what} has more than ${limit.bytes} bytes`, limit);
  return { ok: true, bytes };
}

function tooLarge(found: string, limit: BodyLimit): BoundedBody {
  return { ok: false, response: problem(413, 'body-too-large', `${found}; expected at most ${limit.bytes} (${limit.shown})`) };
}

/** The body's bytes, or undefined as soon as more than `limit` arrived (the rest is not read). */
async function readAtMost(request: HttpRequest, limit: number): Promise<Buffer | undefined> {
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}
