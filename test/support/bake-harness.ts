/**
 * The bake orchestration on the real local durable engine and SDK with scripted activities (test/fixtures/bake-app):
 * one host per test file, a DurableClient, and helpers to start a bake and wait for its record.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { expect } from 'vitest';
import { SkippableClock } from '../../local/host/clock.ts';
import { startLocalHost, type LocalHost } from '../../local/host/index.ts';
import { enqueueOnImageLocks } from '../../src/api/bakes.ts';
import type { BakeInput } from '../../src/pipeline/contracts.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { parseTemplate } from '../../src/template/index.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { fake } from '../fixtures/bake-app/fake-azure.ts';

const app = join(import.meta.dirname, '../fixtures/bake-app');

export interface BakeHarness {
  host: LocalHost;
  clock: SkippableClock;
  client: df.DurableClient;
  spec: BakeSpec;
  start(overrides?: Partial<BakeSpec>, extra?: Partial<BakeInput>): Promise<string>;
  /** Accepts a bake as the API does (its place on the image locks, src/api/bakes.ts) without starting it yet. */
  accept(overrides?: Partial<BakeSpec>): Promise<{ runId: string; acceptedAt: string; start(): Promise<string> }>;
  waitFor(id: string, done: (s: df.DurableOrchestrationStatus) => boolean, timeoutMs?: number): Promise<df.DurableOrchestrationStatus>;
  finished(id: string): Promise<RunRecord>;
  close(): Promise<void>;
}

export async function startBakeHarness(runPrefix: string): Promise<BakeHarness> {
  const home = mkdtempSync(join(tmpdir(), 'kiln-bake-orch-'));
  const clock = new SkippableClock();
  const host = await startLocalHost({ appEntry: join(app, 'app.ts'), home, port: 0, settings: {}, hostJsonPath: join(app, 'host.json'), clock, log: () => undefined });
  const binding = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'test', options: { extraInputs: [binding] } });
  context.extraInputs.set(binding, host.engine.clientInput(host.url));
  const client = df.getClient(context);
  const parsed = parseTemplate(JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/ubuntu-web.json'), 'utf8')), { fallbackName: 'ubuntu-web' });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const spec = parsed.spec;
  let runs = 0;

  const waitFor: BakeHarness['waitFor'] = async (id, done, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await client.getStatus(id);
      if (done(status)) return status;
      if (Date.now() > deadline) throw new Error(`${id}: still ${status.runtimeStatus} (${JSON.stringify(status.customStatus)})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  return {
    host,
    clock,
    client,
    spec,
    async start(overrides = {}, extra = {}) {
      const runId = `${runPrefix}-20261125T130000Z-${String(++runs).padStart(4, '0')}`;
      const input: BakeInput = { runId, templateName: 'ubuntu-web', trigger: 'http', spec: { ...spec, ...overrides }, ...extra };
      await client.startNew('bake', { instanceId: runId, input });
      return runId;
    },
    async accept(overrides = {}) {
      const runId = `${runPrefix}-20261125T130000Z-${String(++runs).padStart(4, '0')}`;
      const acceptedAt = new Date(clock.now());
      const input: BakeInput = { runId, acceptedAt: acceptedAt.toISOString(), templateName: 'ubuntu-web', trigger: 'http', spec: { ...spec, ...overrides } };
      await enqueueOnImageLocks(client, runId, input.spec, acceptedAt);
      return {
        runId,
        acceptedAt: input.acceptedAt!,
        async start() {
          await client.startNew('bake', { instanceId: runId, input });
          return runId;
        },
      };
    },
    waitFor,
    async finished(id) {
      const status = await waitFor(id, (s) => ['Completed', 'Failed', 'Terminated'].includes(String(s.runtimeStatus)));
      expect(status.runtimeStatus, String(status.output)).toBe('Completed');
      const record = fake.records.get(id)!;
      expect(status.output).toEqual(record);
      return record;
    },
    async close() {
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
