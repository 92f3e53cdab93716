/**
 * Live output of a customizer's Run Command: at each poll, the new part of its output blobs goes, masked, to the
 * run's log, in order and exactly once. A byte cursor travels in the operation (the blob offsets read, and the log's
 * length after the last append); each append is conditional on that length, so a poll retried after its append
 * landed (its result lost) writes only what the first attempt did not.
 */

import { resolveSecrets } from '../azure/keyVault.ts';
import { readRunCommandBlobFrom } from '../azure/runCommandBlobs.ts';
import type { RunCommandRef } from './customize.ts';
import type { ActivityEnvironment } from './environment.ts';
import { maskSecrets } from './masking.ts';

/** Bytes of stdout and stderr already in the log, and the log's length after the last append. */
export interface LiveCursor {
  stdout: number;
  stderr: number;
  log: number;
  /** When a look at the running command last read its output (ms since the epoch). */
  readAt?: number;
}

const NEWLINE = 0x0a;

function withCursor(ref: RunCommandRef, liveOutput: LiveCursor): RunCommandRef {
  return { ...ref, liveOutput };
}

/**
 * The operation with a cursor just after the step's `started` header in the log. When the step was begun again
 * (its Run Command already running, some output maybe logged), what follows the header is read back by the first
 * append and not written twice.
 */
export async function startLiveOutput(env: ActivityEnvironment, ref: RunCommandRef): Promise<RunCommandRef> {
  const { runId, phase, step } = ref;
  const text = (await (await env.runStore()).readLog(runId, phase)).toString('utf8');
  const header = [...text.matchAll(/^== ([a-z]+) \d+: (.*) \(\w+\) started\n/gm)].findLast((m) => m[1] === phase && m[2] === step);
  const log = header ? Buffer.byteLength(text.slice(0, header.index + header[0].length)) : Buffer.byteLength(text);
  return withCursor(ref, { stdout: 0, stderr: 0, log });
}

/** The secret values a step's output must not show (looked up again at each poll: they are never kept). */
async function secretsOf(env: ActivityEnvironment, ref: RunCommandRef): Promise<string[]> {
  const refs = ref.secretRefs;
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

/** Marks stderr lines in the log (and tells them apart when a retried poll reads back what it wrote). */
const STDERR_PREFIX = 'stderr| ';

function stderrLines(text: string): string {
  return text === '' ? '' : text.split(/(?<=\n)/).map((line) => STDERR_PREFIX + line).join('');
}

/**
 * Appends the output written since the cursor to the log and returns the operation with the cursor moved on. With
 * `final` (the run has ended) everything left goes out, then `trailer` (the step's verdict line).
 */
export async function followOutput(
  env: ActivityEnvironment,
  ref: RunCommandRef,
  options: { final?: boolean; trailer?: string; secrets?: string[]; read?: { stdout: Buffer; stderr: Buffer } } = {},
): Promise<RunCommandRef> {
  const { runId, phase, name } = ref;
  const store = await env.runStore();
  const cursor = ref.liveOutput ?? { stdout: 0, stderr: 0, log: await store.logLength(runId, phase) };
  // `read`: the whole blobs, already read by the caller, sliced at the cursor instead of read again.
  const [stdout, stderr] = options.read
    ? [options.read.stdout.subarray(cursor.stdout), options.read.stderr.subarray(cursor.stderr)]
    : await Promise.all([
        readRunCommandBlobFrom(env.clients, runId, name, 'stdout', cursor.stdout),
        readRunCommandBlobFrom(env.clients, runId, name, 'stderr', cursor.stderr),
      ]);
  const secrets = options.secrets ?? (stdout.length + stderr.length > 0 ? await secretsOf(env, ref) : []);
  const take = (bytes: Buffer) => (options.final ? bytes.length : releasable(bytes, secrets));
  const [outBytes, errBytes] = [take(stdout), take(stderr)];
  const parts = {
    out: lines(maskSecrets(stdout.subarray(0, outBytes).toString('utf8'), secrets)),
    err: lines(stderrLines(maskSecrets(stderr.subarray(0, errBytes).toString('utf8'), secrets))),
    trailer: options.trailer ?? '',
  };
  const text = parts.out + parts.err + parts.trailer;
  const log = text === '' ? cursor.log : await appendOnce(env, runId, phase, parts, cursor.log);
  return withCursor(ref, { stdout: cursor.stdout + outBytes, stderr: cursor.stderr + errBytes, log });
}

/**
 * followOutput for a look at a command still running, at most once per KILN_POLL_MIN_MS: quick looks
 * (src/activities/quick-looks.ts) come every few ms, and the log needs no more than the durable poller's pace.
 */
export async function followRunning(env: ActivityEnvironment, ref: RunCommandRef): Promise<RunCommandRef> {
  const readAt = ref.liveOutput?.readAt;
  if (readAt !== undefined && Date.now() - readAt < env.config.pollMinMs) return ref;
  const followed = await followOutput(env, ref);
  return withCursor(followed, { ...followed.liveOutput!, readAt: Date.now() });
}

/** Text that ends a line (the last piece of a final flush may not). */
function lines(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

interface Parts {
  out: string;
  err: string;
  trailer: string;
}

/**
 * What of `parts` is not in `written` yet. An earlier attempt (a lost poll, or polls before the step was begun
 * again) wrote, since the same cursor, a prefix of each stream's lines (it read no more output than this one),
 * interleaved: stderr lines are told apart by their prefix.
 */
export function unwritten(written: string, parts: Parts): string {
  let text = written;
  let trailer = parts.trailer;
  if (trailer !== '' && text.endsWith(trailer)) {
    text = text.slice(0, -trailer.length);
    trailer = '';
  }
  const writtenLines = text.split(/(?<=\n)/);
  const out = writtenLines.filter((line) => !line.startsWith(STDERR_PREFIX)).join('');
  const err = writtenLines.filter((line) => line.startsWith(STDERR_PREFIX)).join('');
  if (!parts.out.startsWith(out) || !parts.err.startsWith(err)) {
    throw new Error('the run log holds output this step did not write at its cursor; it was written by someone else');
  }
  return parts.out.slice(out.length) + parts.err.slice(err.length) + trailer;
}

/** Appends the parts at `position`; when the log is already longer, reads back what is there and appends only the rest. */
async function appendOnce(env: ActivityEnvironment, runId: string, phase: string, parts: Parts, position: number): Promise<number> {
  const store = await env.runStore();
  const end = await store.appendLogAt(runId, phase, Buffer.from(parts.out + parts.err + parts.trailer, 'utf8'), position);
  if (end !== undefined) return end;
  const already = await store.readLog(runId, phase, position);
  let rest: string;
  try {
    rest = unwritten(already.toString('utf8'), parts);
  } catch (error) {
    throw new Error(`run log ${runId}/${phase} after offset ${position}: ${(error as Error).message}`);
  }
  const length = position + already.length;
  if (rest === '') return length;
  const after = await store.appendLogAt(runId, phase, Buffer.from(rest, 'utf8'), length);
  if (after === undefined) throw new Error(`run log ${runId}/${phase}: written concurrently at offset ${length}`);
  return after;
}
