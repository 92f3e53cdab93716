/** Shared setup for the durable engine tests: a local host on the durable sample app, and a real DurableClient. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { SkippableClock } from '../../local/host/clock.ts';
import { startLocalHost, type LocalHost } from '../../local/host/index.ts';

export const durableApps = join(import.meta.dirname, '../fixtures/durable-apps');

export interface DurableTestHost {
  host: LocalHost;
  clock: SkippableClock;
  client: df.DurableClient;
  logs: string[];
  /** Polls the instance's status until `done` holds (default: a final status), failing after `timeoutMs`. */
  waitFor(instanceId: string, done?: (s: df.DurableOrchestrationStatus) => boolean, timeoutMs?: number): Promise<df.DurableOrchestrationStatus>;
  close(): Promise<void>;
}

const finished = new Set(['Completed', 'Failed', 'Terminated']);

/** The DurableClient that df.getClient builds from the engine's durableClient input. */
export function durableClientFor(host: LocalHost): df.DurableClient {
  const binding = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'test', options: { extraInputs: [binding] } });
  context.extraInputs.set(binding, host.engine.clientInput(host.url));
  return df.getClient(context);
}

/** `home` keeps the state across hosts (then the caller removes it); `clockStart` pins the clock's initial time. */
export async function startDurableHost(options: { home?: string; clockStart?: number; hostJsonPath?: string } = {}): Promise<DurableTestHost> {
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'kiln-durable-'));
  const clock = new SkippableClock({ start: options.clockStart });
  const logs: string[] = [];
  const host = await startLocalHost({
    appEntry: join(durableApps, 'app.ts'),
    home,
    port: 0,
    settings: { DURABLE_TEST_HUB: 'durabletest' },
    hostJsonPath: options.hostJsonPath ?? join(durableApps, 'host.json'),
    clock,
    log: (line) => logs.push(line),
  });
  const client = durableClientFor(host);
  return {
    host,
    clock,
    client,
    logs,
    async waitFor(instanceId, done = (s) => finished.has(String(s.runtimeStatus)), timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await client.getStatus(instanceId);
        if (done(status)) return status;
        if (Date.now() > deadline) throw new Error(`instance ${instanceId}: still ${status.runtimeStatus} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      await host.close();
      if (!options.home) rmSync(home, { recursive: true, force: true });
    },
  };
}
