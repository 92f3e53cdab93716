/**
 * Bakes waiting for vCPU quota on the real local durable engine with scripted activities: a bake whose build VM is
 * gone wakes the first waiter in line (not everyone, not by timer), and a waiter whose bake died does not hold the
 * line. The clock is never advanced: the waiters' fallback timers (15 s) stay far off.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Activity } from '../../src/activities/contracts.ts';
import type { BakeProgress } from '../../src/pipeline/contracts.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { fake, galleryImage } from '../fixtures/bake-app/fake-azure.ts';
import { startBakeHarness, type BakeHarness } from '../support/bake-harness.ts';

let h: BakeHarness;

beforeAll(async () => {
  h = await startBakeHarness('quota-wake');
});

afterAll(async () => {
  await h?.close();
});

/** One build VM fits the quota; the first bake holds it in its first customizer until `letGo`. */
function holdFirst(runId: string): { letGo(): void } {
  const key = `${Activity.beginCustomizer}:customize:0:${runId}`;
  fake.reset({ buildVmQuota: 1, behaviours: { [key]: { kind: 'hang' } } });
  return { letGo: () => void (fake.scenario.behaviours[key] = { kind: 'succeed' }) };
}

/** Each bake writes an image of its own (a lock of its own), so they run side by side. */
let images = 0;
const ownImage = () => ({ distributions: h.spec.distributions.map((d) => (d.type === 'SharedImage' ? { ...d, galleryImageId: `${galleryImage()}-${++images}` } : d)) });
const start = () => h.start(ownImage());
/** The first bake: its run id is known before it starts, so its hold is in place before it can reach it. */
async function startHeld(overrides: Partial<BakeSpec> = {}): Promise<{ a: string; letGo(): void }> {
  const accepted = await h.accept({ ...ownImage(), ...overrides });
  const hold = holdFirst(accepted.runId);
  await accepted.start();
  return { a: accepted.runId, letGo: hold.letGo };
}

const waitingForQuota = (id: string, line: string) =>
  h.waitFor(id, (s) => !!(s.customStatus as BakeProgress | null)?.waitingFor?.includes(line));
const creates = (runId: string) => fake.called(Activity.beginStagingVm).filter((c) => (c.input as { plan: { runId: string } }).plan.runId === runId).length;
const woken = async (id: string) => {
  const history = (await h.client.getStatus(id, { showHistory: true })).history as { EventType: string; Name?: string }[];
  return history.filter((e) => e.EventType === 'EventRaised' && e.Name === 'quotaFreed').length;
};

beforeEach(() => fake.reset());

describe('waiting for vCPU quota', () => {
  it('a bake that frees its build VM wakes the first waiter only; that one, when done, wakes the next', async () => {
    const { a, ...hold } = await startHeld();
    await h.waitFor(a, () => fake.buildVms.includes(a));
    const b = await start();
    await waitingForQuota(b, 'first in line');
    const c = await start();
    await waitingForQuota(c, '1 bake ahead');
    hold.letGo();
    const [ra, rb, rc] = [await h.finished(a), await h.finished(b), await h.finished(c)];
    expect([ra.status, rb.status, rc.status]).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(fake.buildVmsMade).toEqual([a, b, c]);
    // Each waiter was refused once and tried again only when woken: A's free did not wake C too.
    expect([creates(b), creates(c)]).toEqual([2, 2]);
    expect([await woken(b), await woken(c)]).toEqual([1, 1]);
    expect(rc.steps.find((s) => s.name === 'stage')!.message).toMatch(/^waited \d+ (ms|s) for vCPU quota \(1 refusal\)$/);
  });

  it('a waiter whose bake was terminated does not hold the line: the next one is woken in its place', async () => {
    const { a, ...hold } = await startHeld();
    await h.waitFor(a, () => fake.buildVms.includes(a));
    const dead = await start();
    await waitingForQuota(dead, 'first in line');
    const c = await start();
    await waitingForQuota(c, '1 bake ahead');
    await h.client.terminate(dead, 'gone');
    await h.waitFor(dead, (s) => s.runtimeStatus === 'Terminated');
    hold.letGo();
    const rc = await h.finished(c);
    expect(rc.status).toBe('Succeeded');
    expect(fake.buildVmsMade).toEqual([a, c]);
    expect(creates(c)).toBe(2);
    expect(await woken(c)).toBe(1);
  });

  it('a waiter is woken once the staging group is gone, while the bake that freed it still replicates or waits for approval', async () => {
    const { a, ...hold } = await startHeld({ approval: { required: true, timeout: { iso: 'PT1H', ms: 3_600_000 } } });
    await h.waitFor(a, () => fake.buildVms.includes(a));
    const b = await start();
    await waitingForQuota(b, 'first in line');
    hold.letGo();
    const rb = await h.finished(b);
    expect(rb.status).toBe('Succeeded');
    expect([creates(b), await woken(b)]).toEqual([2, 1]);
    // A has not ended: it waits for its approval (an hour), yet B did not wait for A's end.
    expect(((await h.client.getStatus(a)).customStatus as BakeProgress).step).toBe('approve');
    await h.client.raiseEvent(a, 'approve', { by: 'test' });
    expect((await h.finished(a)).status).toBe('Succeeded');
    // The line heard of A's build VM once, from the child beside replication: A's end does not tell it again.
    const told = ((await h.client.getStatus(a, { showHistory: true })).history as { EventType: string; Name?: string }[]).filter((e) => e.EventType === 'EventSent' && e.Name === 'freed');
    expect(told).toEqual([]);
  });
});
