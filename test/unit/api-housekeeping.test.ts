/** The janitor's closing of abandoned runs, against fakes of the durable client, the run store and ARM. */
import { readFile } from 'node:fs/promises';
import type { DurableClient } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import type { AzureClients } from '../../src/azure/clients.ts';
import { closeAbandonedRuns } from '../../src/api/housekeeping.ts';
import { lockKey } from '../../src/pipeline/bake-lock.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import type { RunStore } from '../../src/runs/store.ts';
import { parseTemplate } from '../../src/template/index.ts';

const NOW = new Date('2026-12-06T12:00:00Z');

async function specOf(): Promise<RunRecord['spec']> {
  const parsed = parseTemplate(JSON.parse(await readFile('examples/ubuntu-web.json', 'utf8')));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

function record(id: string, createdAt: string, spec: RunRecord['spec']): RunRecord {
  return {
    id, templateName: 'ubuntu-web', trigger: 'http', status: 'Running', createdAt, spec,
    steps: [{ name: 'replicate', status: 'Running', attempts: 1 }, { name: 'rollout', status: 'Pending', attempts: 0 }],
    outputs: { regions: {}, scaleSets: [] },
  };
}

/** Instances by id (missing = 404); `broken` ids fail to read with a 500. */
function fakes(records: RunRecord[], instances: Record<string, string>, broken: string[] = []) {
  const saved = new Map(records.map((r) => [r.id, r]));
  const calls = { terminated: [] as string[], started: [] as { name: string; instanceId: string; input: { runId: string; keys: string[] } }[] };
  const client = {
    async getStatus(id: string) {
      if (broken.includes(id)) throw new Error('DurableClient error: Durable Functions extension replied with HTTP 500 response.');
      const runtimeStatus = instances[id];
      if (!runtimeStatus) throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response. ${id}`);
      return { runtimeStatus };
    },
    async terminate(id: string) {
      calls.terminated.push(id);
    },
    async startNew(name: string, options: { instanceId: string; input: { runId: string; keys: string[] } }) {
      calls.started.push({ name, ...options });
      instances[options.instanceId] = 'Pending';
    },
  } as unknown as DurableClient;
  const runs = {
    listUnfinished: async () => [...saved.values()].filter((r) => r.status === 'Running').map((r) => r.id),
    get: async (id: string) => saved.get(id),
    put: async (r: RunRecord) => void saved.set(r.id, r),
  } as unknown as RunStore;
  const azure = { subscriptionId: 's', resources: { resourceGroups: { list: async function* () {} } } } as unknown as AzureClients;
  return { deps: { client, runs, azure }, saved, calls };
}

describe('closeAbandonedRuns', () => {
  it('closes a terminated bake: children stopped, locks released, record Failed/Terminated; leaves live ones alone', async () => {
    const spec = await specOf();
    const terminated = 'ubuntu-web-20261206T110000Z-aaaa';
    const running = 'ubuntu-web-20261206T110000Z-bbbb';
    const young = 'ubuntu-web-20261206T115500Z-cccc';
    const orphan = 'ubuntu-web-20261206T100000Z-dddd';
    const broken = 'ubuntu-web-20261206T100000Z-eeee';
    const { deps, saved, calls } = fakes(
      [terminated, running, young, orphan, broken].map((id) => record(id, id === young ? '2026-12-06T11:55:00Z' : '2026-12-06T10:00:00Z', spec)),
      {
        [terminated]: 'Terminated',
        [`${terminated}:replicate:0`]: 'Running',
        [`${terminated}:replicate:1`]: 'Completed',
        [`${terminated}:rollout:0`]: 'Pending',
        [running]: 'Running',
        [`${running}:replicate:0`]: 'Running',
      },
      [broken],
    );
    const result = await closeAbandonedRuns(deps, NOW);
    expect(result.closed.sort()).toEqual([terminated, orphan].sort());
    expect(result.failed).toEqual([expect.stringMatching(new RegExp(`^${broken}: .*HTTP 500`))]);
    expect(calls.terminated.sort()).toEqual([`${terminated}:replicate:0`, `${terminated}:rollout:0`]);
    const image = spec!.distributions.find((d) => d.type === 'SharedImage')!;
    // Released by an orchestration, whose release answers with the next waiter to wake (a signal would not).
    const key = lockKey(image.type === 'SharedImage' ? image.galleryImageId : '');
    expect(calls.started.filter((s) => s.input.runId === terminated)).toEqual([
      { name: 'releaseBakeLocks', instanceId: `${terminated}:release-locks`, input: { runId: terminated, keys: [key] } },
    ]);
    expect(calls.started.map((s) => s.input.runId).sort()).toEqual([orphan, terminated].sort());
    expect(saved.get(terminated)).toMatchObject({
      status: 'Failed', endedAt: NOW.toISOString(), error: { code: 'Terminated', step: 'replicate' },
      steps: [{ name: 'replicate', status: 'Failed' }, { name: 'rollout', status: 'Skipped' }],
    });
    expect(saved.get(orphan)?.error?.message).toContain('no instance');
    // What the janitor set going, not what it finished: the release runs on after the record is written.
    expect(saved.get(terminated)?.error?.message).toMatch(/the janitor started releasing its image locks$/);
    for (const id of [running, young, broken]) expect(saved.get(id)?.status).toBe('Running');
  });

  it('leaves alone a bake that ended after the janitor read its instance (its record, read next, is final)', async () => {
    const spec = await specOf();
    const id = 'ubuntu-web-20261206T110000Z-gggg';
    const running = record(id, '2026-12-06T10:00:00Z', spec);
    const { deps, saved, calls } = fakes([running], { [id]: 'Running' });
    const finished: RunRecord = { ...running, status: 'Succeeded', endedAt: '2026-12-06T11:59:59Z' };
    // While the instance is read, the bake saves Succeeded and completes.
    const client = deps.client as unknown as { getStatus(id: string): Promise<{ runtimeStatus: string }> };
    client.getStatus = async (instanceId: string) => {
      if (instanceId !== id) throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response. ${instanceId}`);
      saved.set(id, finished);
      return { runtimeStatus: 'Completed' };
    };
    const result = await closeAbandonedRuns(deps, NOW);
    expect(result.closed).toEqual([]);
    expect(saved.get(id)).toEqual(finished);
    expect(calls.started).toEqual([]);
  });

  it('reads the instance before the record, and the record once: a bake that ends right after a record read is never closed', async () => {
    const spec = await specOf();
    const id = 'ubuntu-web-20261206T110000Z-hhhh';
    const running = record(id, '2026-12-06T10:00:00Z', spec);
    const instances: Record<string, string> = { [id]: 'Running' };
    const { deps, saved, calls } = fakes([running], instances);
    const reads: string[] = [];
    const client = deps.client as unknown as { getStatus(id: string): Promise<{ runtimeStatus: string }> };
    const getStatus = client.getStatus.bind(client);
    client.getStatus = async (instanceId: string) => {
      reads.push(`instance ${instanceId}`);
      return getStatus(instanceId);
    };
    // A record read of a live bake hands back the record as it was, and the bake then finishes: its final record, then its end.
    const store = deps.runs as unknown as { get(id: string): Promise<RunRecord | undefined> };
    store.get = async (runId: string) => {
      reads.push(`record ${runId}`);
      const seen = saved.get(runId);
      if (instances[runId] === 'Running') {
        saved.set(runId, { ...running, status: 'Succeeded', endedAt: '2026-12-06T11:59:59Z' });
        instances[runId] = 'Completed';
      }
      return seen;
    };
    // Record first, instance next would see Running, then Completed, and close a bake that succeeded.
    expect((await closeAbandonedRuns(deps, NOW)).closed).toEqual([]);
    expect(reads).toEqual([`instance ${id}`]);
    expect(saved.get(id)).toEqual(running);
    expect(calls.started).toEqual([]);
    // Once the instance has ended, one record read decides.
    saved.set(id, running);
    instances[id] = 'Terminated';
    reads.length = 0;
    expect((await closeAbandonedRuns(deps, NOW)).closed).toEqual([id]);
    expect(reads.filter((read) => read.startsWith('record'))).toEqual([`record ${id}`]);
  });

  it('starts the release of a run\'s locks once, even when a sweep that died midway runs again', async () => {
    const spec = await specOf();
    const id = 'ubuntu-web-20261206T110000Z-ffff';
    const { deps, calls } = fakes([record(id, '2026-12-06T10:00:00Z', spec)], { [id]: 'Terminated', [`${id}:release-locks`]: 'Completed' });
    await closeAbandonedRuns(deps, NOW);
    expect(calls.started).toEqual([]);
  });
});
