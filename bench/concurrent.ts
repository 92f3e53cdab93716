/**
 * The patch wave (npm run bench:concurrent): N bakes started at once through the HTTP API on the local default, as a
 * timer firing the same cron for a whole team does. Distinct images by default (the bench seeds N image definitions,
 * one per bake); `--same-image` bakes one image N times (they queue on its lock). Prints wall time, per-bake p50/p95,
 * the ratio to one bake alone (the median of `--alone` lone bakes run first in the same process: realistic draws
 * differ per bake) and to the wave's own per-bake p50, versions created (and for one image, whether they follow the
 * order of arrival), how many bakes waited for vCPU quota, staging groups left, the load average, and CPU time of
 * this process (emulator), the host and Azurite.
 *
 * Usage: npm run bench:concurrent -- [--bakes N] [--same-image] [--profile zero|fast|realistic] [--realistic-scale S]
 *          [--alone K] [--vcpu-quota N] [--isolation auto|off] [--watch-ms MS]
 * Each bake is watched through GET /api/builds/{id} every `--watch-ms` (default 1000, as `kiln bake` watches a deployed
 * endpoint); its wall time ends at its record's endedAt, not when the watcher next looks.
 * `--vcpu-quota N` raises the emulated subscription's family quota to N vCPUs (the regional total to N + 100), as a
 * team running N/2 bakes at once would have asked Azure to; without it the quota is a new subscription's (50 cores per
 * family = 25 build VMs), so larger waves run in turns.
 */

import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ResourceManagementClient } from '@azure/arm-resources';
import { KilnClient } from '../src/api/client.ts';
import { staticTokenCredential } from '../src/azure/clients.ts';
import { TAG_MANAGED } from '../src/azure/resourceGroups.ts';
import { startLocalDefault, type LocalDefault } from '../local/default.ts';
import type { RunRecord } from '../src/runs/record.ts';

const repo = join(import.meta.dirname, '..');
const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);
const GALLERY_GROUP = 'kiln-images';
const GALLERY = 'kilnGallery';

const { values } = parseArgs({
  options: {
    bakes: { type: 'string', default: '10' },
    'same-image': { type: 'boolean', default: false },
    profile: { type: 'string', default: 'zero' },
    'realistic-scale': { type: 'string', default: '0.02' },
    alone: { type: 'string' },
    'vcpu-quota': { type: 'string' },
    isolation: { type: 'string', default: 'auto' },
    'watch-ms': { type: 'string', default: '1000' },
  },
});
const bakes = Number(values.bakes);
if (!Number.isInteger(bakes) || bakes < 1) throw new Error(`--bakes: expected a positive integer, found ${values.bakes}`);
if (!['zero', 'fast', 'realistic'].includes(values.profile)) throw new Error(`--profile: expected zero, fast or realistic, found ${values.profile}`);
const realistic = values.profile === 'realistic';
const scale = Number(values['realistic-scale']);
if (realistic && !(scale > 0)) throw new Error(`--realistic-scale: expected a number > 0, found ${values['realistic-scale']}`);
// One lone bake is the reference when every bake takes the same time; realistic draws differ, so take a median.
const aloneCount = Number(values.alone ?? (realistic ? 3 : 1));
if (!Number.isInteger(aloneCount) || aloneCount < 1) throw new Error(`--alone: expected a positive integer, found ${values.alone}`);
const vcpuQuota = values['vcpu-quota'] === undefined ? undefined : Number(values['vcpu-quota']);
if (vcpuQuota !== undefined && !(Number.isInteger(vcpuQuota) && vcpuQuota >= 1)) throw new Error(`--vcpu-quota: expected a positive whole number of vCPUs, found ${values['vcpu-quota']}`);
if (values.isolation !== 'auto' && values.isolation !== 'off') throw new Error(`--isolation: expected auto or off, found ${values.isolation}`);
const sameImage = values['same-image'];
const watchMs = Number(values['watch-ms']);
if (!(Number.isInteger(watchMs) && watchMs >= 10)) throw new Error(`--watch-ms: expected a whole number of milliseconds >= 10, found ${values['watch-ms']}`);

/** CPU seconds (user + system) of a process from /proc, or undefined when it is gone or not Linux. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine (every core, from /proc/stat): guests' scripts and anything else included. */
function machineCpu(): number | undefined {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return undefined;
  }
}

const selfCpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** How long a bake waited for vCPU quota, from its stage message ("waited 42 s for vCPU quota (3 refusals)"). */
function quotaWaitOf(run: RunRecord): string | undefined {
  return /waited (.+?) for vCPU quota/.exec(run.steps.find((s) => s.name === 'stage')?.message ?? '')?.[1];
}

/** Each step's duration in ms (steps that ran), from the record. */
function stepDurations(run: RunRecord): Map<string, number> {
  const durations = new Map<string, number>();
  for (const step of run.steps) if (step.startedAt && step.endedAt) durations.set(step.name, Date.parse(step.endedAt) - Date.parse(step.startedAt));
  return durations;
}

/** Where the wave's bakes spent their time beside a lone bake's: the median of each step, alone → in the wave. */
function stepBreakdown(lone: RunRecord[], wave: RunRecord[]): string {
  const medianOf = (runs: RunRecord[], step: string) => {
    const values = runs.map((r) => stepDurations(r).get(step)).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  return wave[0]!.steps
    .map((s) => s.name)
    .filter((step) => medianOf(wave, step) !== undefined)
    .map((step) => `${step} ${medianOf(lone, step) ?? '-'} → ${medianOf(wave, step)!}`)
    .join(', ');
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function clients(local: LocalDefault) {
  const options = { endpoint: local.armEndpoint, credentials: { scopes: ['https://management.azure.com/.default'] }, tlsOptions: { ca: local.emulator.caPem } };
  const credential = staticTokenCredential(local.emulator.token);
  return {
    compute: new ComputeManagementClient(credential, local.subscriptionId, options),
    resources: new ResourceManagementClient(credential, local.subscriptionId, options),
  };
}

/** The example without its rollout (N bakes would fight over one scale set), written to `image`. */
async function template(local: LocalDefault, image: string): Promise<Record<string, unknown>> {
  const text = (await readFile(join(repo, 'examples', 'ubuntu-web.json'), 'utf8')).replaceAll('https://127.0.0.1:8443/', `${new URL(local.armEndpoint).origin}/`);
  const parsed = JSON.parse(text) as { name: string; properties: Record<string, unknown> & { distribute: { galleryImageId: string }[] } };
  delete parsed.properties.rollout;
  delete parsed.properties.schedule;
  parsed.name = image;
  parsed.properties.distribute[0]!.galleryImageId = parsed.properties.distribute[0]!.galleryImageId.replace(/\/images\/[^/]+$/, `/images/${image}`);
  return parsed;
}

async function seedImage(local: LocalDefault, name: string): Promise<void> {
  await clients(local).compute.galleryImages.beginCreateOrUpdateAndWait(GALLERY_GROUP, GALLERY, name, {
    location: 'eastus',
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    identifier: { publisher: 'Kiln', offer: 'bench', sku: name },
  }, { updateIntervalInMs: 20 });
}

/**
 * One bake through the API, watched as `kiln bake` watches a deployed endpoint (`--watch-ms`); its wall time ends at
 * the record's endedAt (the host's clock is this machine's), so the watch interval neither adds to it nor, with 50
 * watchers polling fast, takes CPU from the bakes measured.
 */
async function bake(client: KilnClient, body: unknown): Promise<{ id: string; startedAt: number; endedAt: number; wallMs: number; run: RunRecord }> {
  const startedAt = Date.now();
  const { id } = await client.startBake(body);
  for (;;) {
    const run = await client.getRun<RunRecord>(id);
    if (TERMINAL.has(run.status)) {
      const endedAt = run.endedAt ? Date.parse(run.endedAt) : Date.now();
      return { id, startedAt, endedAt, wallMs: endedAt - startedAt, run };
    }
    await new Promise((resolve) => setTimeout(resolve, watchMs));
  }
}

async function versions(local: LocalDefault, image: string): Promise<string[]> {
  const names: string[] = [];
  for await (const version of clients(local).compute.galleryImageVersions.listByGalleryImage(GALLERY_GROUP, GALLERY, image)) names.push(version.name!);
  return names;
}

async function stagingGroupsLeft(local: LocalDefault): Promise<number> {
  let count = 0;
  for await (const group of clients(local).resources.resourceGroups.list()) if (group.tags?.[TAG_MANAGED] === 'true') count++;
  return count;
}

const home = await mkdtemp(join(tmpdir(), 'kiln-bench-concurrent-'));
const local = await startLocalDefault({
  home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: values.profile, hostInProcess: false,
  isolation: values.isolation, log: () => {},
  ...(realistic ? { scale } : {}),
  // The regional total keeps a new subscription's 100 vCPUs of room beside the family (the seed's scale sets use some).
  ...(vcpuQuota !== undefined ? { coreLimits: { family: vcpuQuota, total: vcpuQuota + 100 } } : {}),
});
try {
  const client = new KilnClient(local.functionsUrl, { key: local.apiKey });
  const images = Array.from({ length: sameImage ? 1 : bakes }, (_, i) => `bench-${i}`);
  await seedImage(local, 'bench-alone');
  for (const image of images) await seedImage(local, image);

  const profile = `profile ${values.profile}${realistic ? ` ×${scale}` : ''}, each bake watched every ${watchMs} ms, vCPU quota ${vcpuQuota === undefined ? 'a new subscription\'s (50 per family)' : `RAISED to ${vcpuQuota} per family, ${vcpuQuota + 100} in total (--vcpu-quota)`}, isolation ${values.isolation}`;
  const lone: number[] = [];
  const loneRuns: RunRecord[] = [];
  for (let i = 0; i < aloneCount; i++) {
    const alone = await bake(client, await template(local, 'bench-alone'));
    if (alone.run.status !== 'Succeeded') throw new Error(`a lone bake ended ${alone.run.status}: ${JSON.stringify(alone.run.error)}`);
    lone.push(alone.wallMs);
    loneRuns.push(alone.run);
  }
  const aloneMs = median(lone);
  console.log(`one bake alone: ${aloneMs} ms (${aloneCount === 1 ? 'one lone bake' : `median of ${aloneCount} lone bakes, one after another: ${lone.join(', ')} ms`}; load ${load()})`);

  const pids = { host: local.hostProcess?.pid, azurite: Number(readFileSync(join(home, 'azurite', 'azurite.pid'), 'utf8')) };
  const cpuBefore = { self: selfCpu(), host: cpuSeconds(pids.host), azurite: cpuSeconds(pids.azurite), machine: machineCpu() };
  const bodies = await Promise.all(Array.from({ length: bakes }, (_, i) => template(local, sameImage ? images[0]! : images[i]!)));
  const waveStart = Date.now();
  const started: Promise<Awaited<ReturnType<typeof bake>>>[] = [];
  for (const body of bodies) {
    started.push(bake(client, body));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const loads: number[] = [loadavg()[0]!];
  const loadDuring = setInterval(() => loads.push(loadavg()[0]!), 5_000);
  // The host's durable queues, read beside it (WAL): activities waiting for one of host.json's slots, and instances
  // with work in their inbox waiting for an episode.
  const durable = new DatabaseSync(join(home, 'host', 'durable.db'), { readOnly: true });
  const queued = { activities: [] as number[], episodes: [] as number[] };
  const queueDuring = setInterval(() => {
    queued.activities.push(Number((durable.prepare('SELECT COUNT(*) AS n FROM activities').get() as { n: number }).n));
    queued.episodes.push(Number((durable.prepare('SELECT COUNT(DISTINCT instance_id) AS n FROM inbox').get() as { n: number }).n));
  }, 1_000);
  const results = await Promise.all(started).finally(() => {
    clearInterval(loadDuring);
    clearInterval(queueDuring);
    durable.close();
  });
  const wallMs = Math.max(...results.map((r) => r.endedAt)) - waveStart;
  const cpuWindowMs = Date.now() - waveStart;
  const cpuAfter = { self: selfCpu(), host: cpuSeconds(pids.host), azurite: cpuSeconds(pids.azurite), machine: machineCpu() };

  const succeeded = results.filter((r) => r.run.status === 'Succeeded');
  const walls = results.map((r) => r.wallMs);
  const p50 = percentile(walls, 50);
  console.log(`${bakes} bakes of ${sameImage ? 'one image' : 'distinct images'} at once (${profile}):`);
  console.log(`  succeeded ${succeeded.length}/${bakes}${succeeded.length < bakes ? `; failed: ${results.filter((r) => r.run.status !== 'Succeeded').map((r) => `${r.id} ${r.run.status} ${r.run.error?.code ?? ''}`).join('; ')}` : ''}`);
  console.log(`  wall ${wallMs} ms = ${(wallMs / aloneMs).toFixed(2)} × one bake alone (${(wallMs / (bakes * aloneMs)).toFixed(3)} × ${bakes} bakes back to back); = ${(wallMs / p50).toFixed(2)} × the wave's own per-bake p50`);
  console.log(`  per bake p50 ${p50} ms, p95 ${percentile(walls, 95)} ms, max ${Math.max(...walls)} ms`);
  console.log(`  steps, median ms alone → in the wave: ${stepBreakdown(loneRuns, results.map((r) => r.run))}`);
  const waited = results.map((r) => quotaWaitOf(r.run)).filter((w): w is string => w !== undefined);
  console.log(`  waited for vCPU quota: ${waited.length} of ${bakes}${waited.length ? ` (${waited.join(', ')})` : ''}`);
  const made = sameImage ? await versions(local, images[0]!) : (await Promise.all(images.map(async (image) => (await versions(local, image)).map((v) => `${image}/${v}`)))).flat();
  console.log(`  versions created: ${made.length} (${new Set(made).size} distinct${sameImage ? '' : ', image/version'})`);
  if (sameImage) {
    // Arrival is when the API created the run (the POSTs are in flight together), not the order they were sent.
    const byArrival = [...results].sort((x, y) => Date.parse(x.run.createdAt) - Date.parse(y.run.createdAt)).map((r) => r.run.outputs.version ?? '-');
    const inOrder = byArrival.every((v, i) => i === 0 || v === '-' || byArrival[i - 1] === '-' || v.localeCompare(byArrival[i - 1]!, undefined, { numeric: true }) > 0);
    console.log(`  versions in order of arrival: ${inOrder ? 'yes' : 'NO'} (${byArrival.join(', ')})`);
  }
  console.log(`  staging groups left: ${await stagingGroupsLeft(local)}`);
  const used = (key: 'self' | 'host' | 'azurite' | 'machine') => (cpuAfter[key] !== undefined && cpuBefore[key] !== undefined ? `${(cpuAfter[key]! - cpuBefore[key]!).toFixed(1)} s` : 'n/a');
  console.log(`  CPU during the wave: emulator (this process) ${used('self')}, Functions host ${used('host')}, Azurite ${used('azurite')}; the whole machine ${used('machine')} of ${((availableParallelism() * cpuWindowMs) / 1000).toFixed(0)} s available (guests' scripts, the watchers and other work included); wall ${(wallMs / 1000).toFixed(1)} s`);
  const depth = (xs: number[]) => (xs.length ? `mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)}, p95 ${percentile(xs, 95)}, max ${Math.max(...xs)}` : 'n/a');
  console.log(`  durable queues, sampled each second: activities queued or running ${depth(queued.activities)}; instances with work waiting ${depth(queued.episodes)}`);
  console.log(`  load average (1 min) during the wave: start ${loads[0]!.toFixed(2)}, max ${Math.max(...loads).toFixed(2)}, end ${loadavg()[0]!.toFixed(2)}; now ${load()}`);
} finally {
  await local.close();
  await rm(home, { recursive: true, force: true });
}
