/**
 * startBakeOnce (src/api/bakes.ts) called twice at once for one run id — a retry requested twice, in one process or
 * in two — against Azurite and the local durable host: one record, one orchestration instance, the same run for both.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';
import type * as Bakes from '../../src/api/bakes.ts';
import { handleTemplateDrop } from '../../src/api/template-drop.ts';
import { retryRunId } from '../../src/runs/ids.ts';
import { openRunStore, type RunStore } from '../../src/runs/store.ts';
import { parseTemplate } from '../../src/template/index.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { durableClientFor } from './durable-helpers.ts';

let local: LocalDefault;
let home: string;
let runs: RunStore;
let spec: BakeSpec;
/** Two copies of the module, as two Functions workers would have: each its own in-process acceptance order. */
let processA: typeof Bakes;
let processB: typeof Bakes;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-start-once-'));
  local = await startLocalDefault({ home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero', isolation: 'off' });
  runs = await openRunStore(BlobServiceClient.fromConnectionString(local.blobConnectionString));
  const parsed = parseTemplate(JSON.parse(await readFile(join(import.meta.dirname, '../../examples/ubuntu-web.json'), 'utf8')));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  spec = parsed.spec;
  processA = await import('../../src/api/bakes.ts');
  vi.resetModules();
  processB = await import('../../src/api/bakes.ts');
});

afterAll(async () => {
  await local?.close();
  await rm(home, { recursive: true, force: true });
});

/**
 * The host's durable client, counting the orchestration starts tried and those it accepted (a refused start throws).
 * `meetAt`: the first `count` status reads of `instanceId` wait for one another, so every caller sees it missing.
 */
function countingClient(meetAt?: { instanceId: string; count: number }): { client: DurableClient; tried: string[]; started: string[] } {
  const inner = durableClientFor(local.host!);
  const tried: string[] = [];
  const started: string[] = [];
  const waiting: (() => void)[] = [];
  const client = new Proxy(inner, {
    get(target, property) {
      if (property === 'startNew') {
        return async (name: string, options: { instanceId: string }) => {
          tried.push(options.instanceId);
          const id = await target.startNew(name, options);
          started.push(options.instanceId);
          return id;
        };
      }
      if (property === 'getStatus' && meetAt) {
        return async (instanceId: string) => {
          const status = await target.getStatus(instanceId).catch((error: unknown) => error);
          if (instanceId === meetAt.instanceId && meetAt.count > 0) {
            meetAt.count--;
            await new Promise<void>((resolve) => {
              waiting.push(resolve);
              if (meetAt.count === 0) waiting.splice(0).forEach((release) => release());
            });
          }
          if (status instanceof Error) throw status;
          return status;
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { client, tried, started };
}

/** A retry of a (made-up) failed run, as POST /builds/{id}/retry asks for it. */
function retryOf(failedId: string) {
  return { templateName: 'ubuntu-web', trigger: 'retry' as const, spec, resumeFrom: failedId, runId: retryRunId(failedId) };
}

async function expectOneRun(runId: string, results: Awaited<ReturnType<typeof Bakes.startBakeOnce>>[], started: string[]) {
  expect(results.filter((r) => r.created)).toHaveLength(1);
  for (const result of results) expect(result.record).toMatchObject({ id: runId, trigger: 'retry', createdAt: results[0]!.record.createdAt });
  expect(started).toEqual([runId]);
  const { client } = countingClient();
  const status = await client.getStatus(runId);
  expect(status.name).toBe('bake');
  // The instance carries the arrival its record was made at: no second start replaced it.
  expect((status.input as { acceptedAt: string }).acceptedAt).toBe(results[0]!.record.createdAt);
  const page = await runs.list({ limit: 100 });
  expect(page.records.filter((r) => r.id === runId)).toHaveLength(1);
  await client.terminate(runId, 'test done');
}

describe('startBakeOnce twice at once for one run id', () => {
  it('in one process: one record, one instance, both callers get that run', async () => {
    const { client, started } = countingClient();
    const request = retryOf('ubuntu-web-20261206T100000Z-0a0a');
    const results = await Promise.all([processA.startBakeOnce(client, runs, request), processA.startBakeOnce(client, runs, request)]);
    await expectOneRun(request.runId, results, started);
  });

  it('in two processes: one record, one instance, both callers get that run', async () => {
    expect(processA).not.toBe(processB);
    const { client, started } = countingClient();
    const request = retryOf('ubuntu-web-20261206T100000Z-0b0b');
    const results = await Promise.all([processA.startBakeOnce(client, runs, request), processB.startBakeOnce(client, runs, request)]);
    await expectOneRun(request.runId, results, started);
  });

  it('in two processes that both find no instance and both start it: the refused start still answers with the run', async () => {
    const request = retryOf('ubuntu-web-20261206T100000Z-0c0c');
    const { client, tried, started } = countingClient({ instanceId: request.runId, count: 2 });
    const results = await Promise.all([processA.startBakeOnce(client, runs, request), processB.startBakeOnce(client, runs, request)]);
    expect(tried).toEqual([request.runId, request.runId]);
    await expectOneRun(request.runId, results, started);
  });

  it('a template blob version delivered twice at once: one record, one instance, neither delivery fails', async () => {
    const body = await readFile(join(import.meta.dirname, '../../examples/ubuntu-web.json'));
    const version = { eTag: '"0x8DE0TWICEATONCE"', lastModified: '2026-12-06T10:00:00Z' };
    const { client, started } = countingClient();
    const logs: string[] = [];
    // What the host hands the handler; on Azure, two workers can pick up one blob version.
    const deliver = async (): Promise<void> => {
      const context = new InvocationContext({
        functionName: 'templateDropped',
        triggerMetadata: { name: 'twice-web.json', properties: version },
        options: { trigger: { type: 'blobTrigger', name: 'blob' }, extraInputs: [], extraOutputs: [] },
        logHandler: (_level, ...args) => logs.push(args.join(' ')),
      });
      await handleTemplateDrop(body, client, context);
    };
    await Promise.all([deliver(), deliver()]);
    const records = (await runs.list({ limit: 100 })).records.filter((r) => r.templateName === 'twice-web');
    expect(records).toHaveLength(1);
    const runId = records[0]!.id;
    expect(started).toEqual([runId]);
    expect(logs.filter((line) => line.includes('started bake'))).toHaveLength(1);
    expect(logs.filter((line) => line.includes('already started run'))).toHaveLength(1);
    await client.terminate(runId, 'test done');
  });
});
