/**
 * Benchmark of a local bake (npm run bench:bake): the wall time of ubuntu-web on the `zero` profile (per step),
 * and on `realistic` scaled, Kiln's overhead above the emulator's critical path — the time no emulated Azure
 * operation was running (union of the emulator's operation intervals), over the bake's wall time.
 *
 * Usage: npm run bench:bake -- [--runs N] [--realistic-scale S] [--skip-realistic]
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KilnClient } from '../src/api/client.ts';
import { startLocalDefault, type LocalDefault } from '../src/local/default.ts';
import type { RunRecord } from '../src/runs/record.ts';

const repo = join(import.meta.dirname, '..');
const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

interface Interval {
  startedAt: number;
  endsAt: number;
}

/** The optional emulator timeline (intervals of simulated work); absent in emulators that do not record it. */
type TimelineEmulator = { timeline?: () => (Interval & { kind: string })[] };

async function template(local: LocalDefault): Promise<unknown> {
  const text = await readFile(join(repo, 'examples', 'ubuntu-web.json'), 'utf8');
  return JSON.parse(text.replaceAll('https://127.0.0.1:8443/', `${new URL(local.armEndpoint).origin}/`));
}

async function bakeOnce(local: LocalDefault, client: KilnClient): Promise<{ wallMs: number; run: RunRecord; started: number; ended: number }> {
  const started = Date.now();
  const { id } = await client.startBake(await template(local));
  for (;;) {
    const run = await client.getRun<RunRecord>(id);
    if (TERMINAL.has(run.status)) {
      const ended = Date.now();
      if (run.status !== 'Succeeded') throw new Error(`bake ${id} ended ${run.status}: ${JSON.stringify(run.error)}`);
      return { wallMs: ended - started, run, started, ended };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
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

/** Milliseconds of [from, to] covered by at least one interval. */
function coveredMs(intervals: Interval[], from: number, to: number): number {
  const clipped = intervals
    .map((i) => ({ start: Math.max(from, i.startedAt), end: Math.min(to, i.endsAt) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  let covered = 0;
  let reach = from;
  for (const { start, end } of clipped) {
    if (end <= reach) continue;
    covered += end - Math.max(start, reach);
    reach = end;
  }
  return covered;
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
    const { wallMs, run, started, ended } = await bakeOnce(local, client);
    console.log(`realistic×${scale} bake: ${wallMs} ms wall (steps, ms: ${stepDurations(run)})`);
    const timeline = (local.emulator as unknown as TimelineEmulator).timeline?.();
    if (!timeline) {
      console.log('realistic: the emulator records no operation timeline; overhead above the critical path not measured');
      return;
    }
    const critical = coveredMs(timeline, started, ended);
    const overhead = wallMs - critical;
    console.log(
      `realistic×${scale} critical path ${critical} ms, Kiln overhead ${overhead} ms = ${((overhead / critical) * 100).toFixed(2)} % (target < 2 %)`,
    );
  });
}
