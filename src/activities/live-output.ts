/**
 * Live output of a customizer's Run Command: at each poll, the new part of its output blobs goes, masked, to the
 * run's log, in order and exactly once. A byte cursor travels in the operation (the blob offsets read, and the log's
 * length after the last append); each append is conditional on that length, so a poll retried after its append
 * landed (its result lost) writes only what the first attempt did not.
 */

import { resolveSecrets } from '../azure/keyVault.ts';
import { readRunCommandBlobFrom } from '../azure/runCommandBlobs.ts';
import type { SecretRef } from '../template/spec.ts';
import type { OperationRef } from './contracts.ts';
import type { ActivityEnvironment } from './environment.ts';
import { maskSecrets } from './masking.ts';

/** Bytes of stdout and stderr already in the log, and the log's length after the last append. */
export interface LiveCursor {
  stdout: number;
  stderr: number;
  log: number;
}

const CURSOR = 'liveOutput';
const NEWLINE = 0x0a;

/** The run log and Run Command an operation's output belongs to. */
function target(ref: OperationRef): { runId: string; phase: string; name: string } {
  const d = ref.data ?? {};
  return { runId: String(d['runId']), phase: String(d['phase']), name: String(d['name']) };
}

export function cursorOf(ref: OperationRef): LiveCursor | undefined {
  const text = ref.data?.[CURSOR];
  return typeof text === 'string' ? (JSON.parse(text) as LiveCursor) : undefined;
}

function withCursor(ref: OperationRef, cursor: LiveCursor): OperationRef {
  return { ...ref, data: { ...ref.data, [CURSOR]: JSON.stringify(cursor) } };
}

/** The operation with a cursor at the log's current end: called once the step's header line is in the log. */
export async function startLiveOutput(env: ActivityEnvironment, ref: OperationRef): Promise<OperationRef> {
  const { runId, phase } = target(ref);
  const log = await (await env.runStore()).logLength(runId, phase);
  return withCursor(ref, { stdout: 0, stderr: 0, log });
}

/** The secret values a step's output must not show (looked up again at each poll: they are never kept). */
async function secretsOf(env: ActivityEnvironment, ref: OperationRef): Promise<string[]> {
  const refs = JSON.parse(String(ref.data?.['secretRefs'] ?? '{}')) as Record<string, SecretRef>;
  const names = Object.keys(refs);
  return names.length === 0 ? [] : [...(await resolveSecrets(env.clients, refs, names)).values()];
}

/**
 * How many bytes of `bytes` can go out now: up to the last newline (a line is masked whole), and before any
 * trailing text that could be the start of a multi-line secret whose rest is not written yet.
 */
export function releasable(bytes: Buffer, secrets: string[]): number {
  let cut = bytes.lastIndexOf(NEWLINE) + 1;
  const multiLine = secrets.filter((s) => s.includes('\n'));
  for (let moved = true; moved && cut > 0;) {
    moved = false;
    const text = bytes.subarray(0, cut).toString('utf8');
    for (const secret of multiLine) {
      for (let k = secret.length - 1; k > 0; k--) {
        if (!text.endsWith(secret.slice(0, k))) continue;
        const start = Buffer.byteLength(text.slice(0, text.length - k));
        cut = bytes.lastIndexOf(NEWLINE, start - 1) + 1;
        moved = true;
        break;
      }
      if (moved) break;
    }
  }
  return cut;
}

function stderrLines(text: string): string {
  return text.replace(/^(?=.)/gm, 'stderr| ');
}

/**
 * Appends the output written since the cursor to the log and returns the operation with the cursor moved on. With
 * `final` (the run has ended) everything left goes out, then `trailer` (the step's verdict line).
 */
export async function followOutput(
  env: ActivityEnvironment,
  ref: OperationRef,
  options: { final?: boolean; trailer?: string; secrets?: string[] } = {},
): Promise<OperationRef> {
  const { runId, phase, name } = target(ref);
  const store = await env.runStore();
  const cursor = cursorOf(ref) ?? { stdout: 0, stderr: 0, log: await store.logLength(runId, phase) };
  const [stdout, stderr] = await Promise.all([
    readRunCommandBlobFrom(env.clients, runId, name, 'stdout', cursor.stdout),
    readRunCommandBlobFrom(env.clients, runId, name, 'stderr', cursor.stderr),
  ]);
  const secrets = options.secrets ?? (stdout.length + stderr.length > 0 ? await secretsOf(env, ref) : []);
  const take = (bytes: Buffer) => (options.final ? bytes.length : releasable(bytes, secrets));
  const [outBytes, errBytes] = [take(stdout), take(stderr)];
  const parts = [
    lines(maskSecrets(stdout.subarray(0, outBytes).toString('utf8'), secrets)),
    lines(stderrLines(maskSecrets(stderr.subarray(0, errBytes).toString('utf8'), secrets))),
    options.trailer ?? '',
  ].map((part) => Buffer.from(part, 'utf8'));
  const log = parts.some((part) => part.length > 0) ? await appendOnce(env, runId, phase, parts, cursor.log) : cursor.log;
  return withCursor(ref, { stdout: cursor.stdout + outBytes, stderr: cursor.stderr + errBytes, log });
}

/** Text that ends a line (the last piece of a final flush may not). */
function lines(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * Appends the parts at `position`. When the log is already longer, an earlier attempt of this same poll wrote a
 * prefix of each part (it read no more output than this one): what it wrote is read back and only the rest appended.
 */
async function appendOnce(env: ActivityEnvironment, runId: string, phase: string, parts: Buffer[], position: number): Promise<number> {
  const store = await env.runStore();
  const end = await store.appendLogAt(runId, phase, Buffer.concat(parts), position);
  if (end !== undefined) return end;
  const already = await store.readLog(runId, phase, position);
  let written = already;
  const rest = parts.map((part) => {
    const same = commonPrefix(written, part);
    written = written.subarray(same);
    return part.subarray(same);
  });
  if (written.length > 0) {
    throw new Error(`run log ${runId}/${phase}: ${written.length} bytes after offset ${position} are not this step's output; the log was written by someone else`);
  }
  const length = position + already.length;
  const tail = Buffer.concat(rest);
  if (tail.length === 0) return length;
  const after = await store.appendLogAt(runId, phase, tail, length);
  if (after === undefined) throw new Error(`run log ${runId}/${phase}: written concurrently at offset ${length}`);
  return after;
}

function commonPrefix(a: Buffer, b: Buffer): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i < max && a[i] === b[i]) i++;
  return i;
}
