/**
 * Benchmark of a local bake (npm run bench:bake): the wall time of ubuntu-web on the `zero` profile (per step),
 * and on `realistic` scaled, Kiln's overhead above the emulator's critical path: wall time less the longest chain of
 * emulated operations (each begun after the one before it was seen to end, counted from its start to when it was
 * due to end), over that chain.
 *
 * Usage: npm run bench:bake -- [--runs N] [--realistic-scale S] [--skip-realistic]
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KilnClient } from '../src/api/client.ts';
import { criticalPath } from '../local/azure/critical-path.ts';
import { startLocalDefault, type LocalDefault } from '../local/default.ts';
import { BLIND_POLL_FRACTION, pacedFraction } from '../src/pipeline/polling.ts';
import type { RunRecord } from '../src/runs/record.ts';
import { eventsBetween, runTrace } from './trace.ts';

const repo = join(import.meta.dirname, '..');
const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

async function template(local: LocalDefault): Promise<unknown> {
  const text = await readFile(join(repo, 'examples', 'ubuntu-web.json'), 'utf8');
  return JSON.parse(text.replaceAll('https://127.0.0.1:8443/', `${new URL(local.armEndpoint).origin}/`));
}

/** One bake through the API, its run read every `everyMs` until it ends (a read costs the host and Azurite CPU). */
async function bakeOnce(local: LocalDefault, client: KilnClient, everyMs = 20): Promise<{ wallMs: number; run: RunRecord; started: number; ended: number; acceptedMs: number }> {
  const body = await template(local);
  const started = Date.now();
  const { id } = await client.startBake(body);
  const acceptedMs = Date.now() - started;
  for (;;) {
    const run = await client.getRun<RunRecord>(id);
    if (TERMINAL.has(run.status)) {
      const ended = Date.now();
      if (run.status !== 'Succeeded') throw new Error(`bake ${id} ended ${run.status}: ${JSON.stringify(run.error)}`);
      return { wallMs: ended - started, run, started, ended, acceptedMs };
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

function stepDurations(run: RunRecord): string {
  return run.steps
    .filter((s) => s.startedAt && s.endedAt)
    .map((s) => `${s.name} ${Date.parse(s.endedAt!) - Date.parse(s.startedAt!)}`)
    .join(', ');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

async function withLocal<T>(profile: string, scale: number | undefined, body: (local: LocalDefault, client: KilnClient) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
  // The host runs as a child process, as under `kiln up`; an in-process host would also keep the first run's app
  // modules (and their settings) for the second profile.
  const local = await startLocalDefault({
    home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile, hostInProcess: false,
    ...(scale !== undefined ? { scale } : {}),
  });
  try {
    return await body(local, new KilnClient(local.functionsUrl, { key: local.apiKey }));
  } finally {
    await local.close();
    await rm(home, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'realistic-scale': { type: 'string', default: '0.01' },
    'skip-realistic': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const scale = Number(values['realistic-scale']);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, found ${values.runs}`);
if (!(scale > 0)) throw new Error(`--realistic-scale: expected a positive number, found ${values['realistic-scale']}`);

await withLocal('zero', undefined, async (local, client) => {
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { wallMs, run } = await bakeOnce(local, client);
    walls.push(wallMs);
    console.log(`zero   bake ${i + 1}/${runs}: ${wallMs} ms wall (steps, ms: ${stepDurations(run)})`);
  }
  console.log(`zero   median wall time: ${median(walls)} ms over ${runs} bakes (target < 5000 ms)`);
});

if (!values['skip-realistic']) {
  await withLocal('realistic', scale, async (local, client) => {
    const requestsBefore = local.emulator.requests();
    // The run is read every 250 ms (at 20 ms the reads alone cost the host and Azurite ~25 % of a core); the bake's end
    // is when its final record save had landed (the bake's ExecutionCompleted, from its durable history).
    const { run, started, ended: seenAt, acceptedMs } = await bakeOnce(local, client, 250);
    const requests = Object.entries(local.emulator.requests()).map(([method, n]) => `${method} ${n - (requestsBefore[method] ?? 0)}`);
    // Under each gap, the durable events in it (episodes commit TaskScheduled/…Created; completions carry the end time).
    const trace = await runTrace(local.functionsUrl, local.adminKey, run.id);
    const ended = trace.find((e) => e.instance === 'bake' && e.what === 'ExecutionCompleted')?.at ?? seenAt;
    const wallMs = ended - started;
    console.log(`realistic×${scale} bake: ${wallMs} ms wall to the final record save (the client saw it ${seenAt - ended} ms later) (steps, ms: ${stepDurations(run)})`);
    const timeline = local.emulator.timeline({ since: started });
    const path = criticalPath(timeline, started, ended);
    const overhead = wallMs - path.chainMs;
    console.log(`realistic×${scale} ${timeline.length} emulated operations; busy (union of [startedAt, dueAt]) ${path.unionMs} ms`);
    console.log(`realistic×${scale} critical path, longest chain (ms: due = startedAt→dueAt, seen = dueAt→settledAt, next = settledAt→next startedAt):`);
    const gap = (from: number, to: number) => {
      for (const line of eventsBetween(trace, from, to)) console.log(`      ${line}`);
    };
    console.log(`  before the first: ${(path.chain[0]?.startedAt ?? ended) - started} (of which POST /api/builds answered in ${acceptedMs}: the host's first request)`);
    gap(started, path.chain[0]?.startedAt ?? ended);
    for (const [index, e] of path.chain.entries()) {
      const next = path.chain[index + 1]?.startedAt ?? ended;
      console.log(`  ${e.operation} due ${e.dueAt! - e.startedAt} seen ${e.settledAt! - e.dueAt!} next ${next - e.settledAt!}`);
      gap(e.settledAt!, next);
    }
    const saves = trace.filter((t) => t.what === 'TaskScheduled saveRunRecord').length;
    const activities = trace.filter((t) => t.what.startsWith('TaskScheduled')).length;
    const looks = trace.filter((t) => t.what === 'TaskScheduled pollOperation' || t.what === 'TaskScheduled watchOperation').length;
    console.log(`realistic×${scale} durable work: ${activities} activities (${saves} record saves, ${looks} durable looks), ${new Set(trace.map((t) => t.instance)).size} instances`);
    // The cost of looking: an activity's quick looks are plain GETs, counted here with every other ARM request.
    console.log(`realistic×${scale} ARM requests to the emulator during the bake: ${requests.join(', ')}`);
    const seen = path.chain.reduce((sum, e) => sum + (e.settledAt! - e.dueAt!), 0);
    console.log(`realistic×${scale} along the chain: ${seen} ms waiting to see an operation end (polling), the rest between operations (Kiln's own steps)`);
    // The 2 % rule allows 2 % of each wait; what a poll saw later than that is the floor's and the look's own cost.
    const beyond = path.chain.map((e) => Math.max(0, e.settledAt! - e.dueAt! - 0.02 * (e.dueAt! - e.startedAt)));
    const within = beyond.filter((ms) => ms === 0).length;
    console.log(
      `realistic×${scale} polling: ${within} of ${path.chain.length} operations seen within 2 % of their wait; ` +
        `${Math.round(beyond.reduce((a, b) => a + b, 0))} ms seen later than that (the poll floor plus one look's round trip)`,
    );
    // Only gallery version operations report a percent (replication progress) an end can be estimated from; the rest
    // are looked at on the 1 % rule, or watched on a denser one where quick looks are cheaper (the local default), and
    // seen, at best, about half its interval late: a floor that grows with the scale.
    const blind = path.chain.filter((e) => !e.operation.startsWith('galleryImageVersions.'));
    const blindMs = blind.reduce((sum, e) => sum + (e.dueAt! - e.startedAt), 0);
    const setting = (name: string) => Number(local.settings[name]);
    const fraction = pacedFraction({ minMs: setting('KILN_POLL_MIN_MS'), maxMs: setting('KILN_POLL_MAX_MS'), quickMs: setting('KILN_POLL_QUICK_MS') }) ?? BLIND_POLL_FRACTION;
    console.log(
      `realistic×${scale} operations with no progress to estimate their end from: ${blind.length} of ${path.chain.length}, waits totalling ${blindMs} ms; ` +
        `half the ${+(fraction * 100).toFixed(2)} % rule's interval on them is ${Math.round((blindMs * fraction) / 2)} ms, seen ${blind.reduce((sum, e) => sum + (e.settledAt! - e.dueAt!), 0)} ms`,
    );
    console.log(
      `realistic×${scale} wall ${wallMs} ms, critical path ${path.chainMs} ms (longest chain), Kiln overhead ${overhead} ms = ${((overhead / path.chainMs) * 100).toFixed(2)} % of the critical path (target < 2 %)`,
    );
  });
}
