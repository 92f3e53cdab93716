/**
 * The cursor of GET /builds/{id}/logs: how many bytes of each step's log a reader has seen, as an opaque
 * base64url token, so a follower asks only for what was written since.
 */

import type { StepLog } from '../runs/store.ts';

export type LogCursor = Record<string, number>;

const STEP = /^[a-z0-9][a-z0-9-]*$/;

export function encodeLogCursor(cursor: LogCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** The cursor in a token, or the reason it is not one (for a 400 that names the field). */
export function decodeLogCursor(token: string): { ok: true; cursor: LogCursor } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, message: 'not a cursor this API returned' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, message: 'not a cursor this API returned' };
  for (const [step, offset] of Object.entries(value)) {
    if (!STEP.test(step) || !Number.isSafeInteger(offset) || (offset as number) < 0) {
      return { ok: false, message: `not a cursor this API returned (entry ${JSON.stringify(step)})` };
    }
  }
  return { ok: true, cursor: value as LogCursor };
}

/** The cursor after reading `logs` from `from`. */
export function advanceLogCursor(from: LogCursor, logs: StepLog[]): LogCursor {
  const next = { ...from };
  for (const log of logs) next[log.step] = log.length ?? next[log.step] ?? 0;
  return next;
}
