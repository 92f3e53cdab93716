/**
 * Durable engine benchmark (`npm run bench:durable`): orchestrations per second with 5 sequential activities each,
 * and replay cost as history grows (one orchestration of 1,000 sequential activities: time per activity at the
 * start against the end). Runs the real local host and DurableClient; prints the measured figures.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import azureFunctions from '@azure/functions';
import * as df from 'durable-functions';
import { startLocalHost, type LocalHost } from '../local/host/index.ts';

// @azure/functions is CommonJS: native ESM sees its classes on the default export only.
const { InvocationContext } = azureFunctions;
const ORCHESTRATIONS = Number(process.env.BENCH_ORCHESTRATIONS ?? 300);
const CHAIN = Number(process.env.BENCH_CHAIN ?? 1_000);
const WINDOW = 100;

function clientFor(host: LocalHost): df.DurableClient {
  const binding = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'bench', options: { extraInputs: [binding] } });
  context.extraInputs.set(binding, host.engine.clientInput(host.url));
  return df.getClient(context);
}

async function waitUntilDone(client: df.DurableClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    for (;;) {
      const status = await client.getStatus(id);
      if (status.runtimeStatus === 'Completed') break;
      if (status.runtimeStatus === 'Failed') throw new Error(`${id} failed: ${JSON.stringify(status.output)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

const hostJsonPath = join(import.meta.dirname, '../host.json');
const limits = (JSON.parse(readFileSync(hostJsonPath, 'utf8')) as { extensions?: { durableTask?: Record<string, number> } }).extensions?.durableTask ?? {};
const home = mkdtempSync(join(tmpdir(), 'kiln-bench-durable-'));
const host = await startLocalHost({
  appEntry: join(import.meta.dirname, 'durable-app.ts'),
  home,
  port: 0,
  settings: { KILN_TASK_HUB: 'bench' },
  hostJsonPath,
  log: () => undefined,
});
try {
  const client = clientFor(host);

  const started = performance.now();
  const ids = await Promise.all(Array.from({ length: ORCHESTRATIONS }, () => client.startNew('BenchChain', { input: 5 })));
  await waitUntilDone(client, ids);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `throughput: ${ORCHESTRATIONS} orchestrations x 5 sequential activities in ${seconds.toFixed(2)} s = ` +
      `${(ORCHESTRATIONS / seconds).toFixed(1)} orchestrations/s (${((ORCHESTRATIONS * 5) / seconds).toFixed(0)} activities/s), ` +
      `host.json limits: ${limits.maxConcurrentOrchestratorFunctions ?? 'default'} orchestrators, ` +
      `${limits.maxConcurrentActivityFunctions ?? 'default'} activities`,
  );

  const chainStart = performance.now();
  const chainId = await client.startNew('BenchChain', { input: CHAIN });
  await waitUntilDone(client, [chainId]);
  const chainSeconds = (performance.now() - chainStart) / 1000;
  const status = await client.getStatus(chainId, { showHistory: true });
  const scheduled = (status.history as { EventType: string; Timestamp: string }[])
    .filter((e) => e.EventType === 'TaskScheduled')
    .map((e) => Date.parse(e.Timestamp));
  const perActivity = (from: number): number => (scheduled[from + WINDOW]! - scheduled[from]!) / WINDOW;
  const first = perActivity(0);
  const last = perActivity(scheduled.length - 1 - WINDOW);
  console.log(
    `replay: ${CHAIN} sequential activities in ${chainSeconds.toFixed(2)} s; ` +
      `per activity ${first.toFixed(2)} ms over the first ${WINDOW}, ${last.toFixed(2)} ms over the last ${WINDOW} ` +
      `(x${(last / first).toFixed(1)}: every episode replays the whole history)`,
  );
} finally {
  await host.close();
  rmSync(home, { recursive: true, force: true });
}
