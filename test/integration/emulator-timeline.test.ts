// The emulator's operation timeline through the SDK and over HTTPS: an operation polled late is recorded as due
// when its latency ran out, and seen when the late poll came.
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimelineEntry } from '../../local/azure/arm/lro.ts';
import { FAST_POLL, startTestEmulator, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;

/** GET /_emulator/timeline as a benchmark in another process would. */
function getTimeline(query: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.emulator.armEndpoint}/_emulator/timeline${query}`, { ca: t.emulator.caPem, headers: { authorization: `Bearer ${t.emulator.token}` } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  // `fast` at 0.2: a resource group delete takes 180 ms.
  t = await startTestEmulator({ profile: 'fast', scale: 0.2 });
  await t.resources.resourceGroups.createOrUpdate('rg-t', { location: 'eastus' });
});
afterAll(async () => {
  await t?.close();
});

describe('operation timeline', () => {
  it('records a late-polled delete as due after its latency and seen at the late poll', async () => {
    const since = Date.now();
    const poller = await t.resources.resourceGroups.beginDelete('rg-t', FAST_POLL);
    await sleep(600);
    await poller.pollUntilDone();
    const [entry] = t.emulator.timeline({ since });
    expect(entry).toMatchObject({ operation: 'resourceGroups.delete', resourceId: t.id('rg-t'), status: 'Succeeded' });
    // The step's due time is computed a moment before the operation is recorded as started (two clock reads).
    expect(entry!.dueAt! - entry!.startedAt).toBeGreaterThanOrEqual(178);
    expect(entry!.dueAt! - entry!.startedAt).toBeLessThan(300);
    expect(entry!.settledAt! - entry!.startedAt).toBeGreaterThanOrEqual(550);

    const remote = await getTimeline(`?since=${since}`);
    expect(remote.status).toBe(200);
    expect(remote.json as TimelineEntry[]).toEqual([entry]);
    expect(await getTimeline(`?since=${Date.now() + 60_000}`)).toEqual({ status: 200, json: [] });
  });

  it('refuses a since that is not epoch milliseconds', async () => {
    const response = await getTimeline('?since=yesterday');
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.json)).toContain("expected epoch milliseconds, found 'yesterday'");
  });
});
