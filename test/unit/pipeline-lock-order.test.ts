/**
 * Same-image bakes on the real local durable engine with scripted activities: the lock is granted in order of
 * arrival (acceptance), and a run that ends without ever asking, or that the janitor closes, hands its place on.
 */

import * as df from 'durable-functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imageLockKeys, lockKey, type BakeLockState } from '../../src/pipeline/bake-lock.ts';
import { Entity } from '../../src/pipeline/contracts.ts';
import { Orchestration, type BakeProgress, type ReleaseBakeLocksInput } from '../../src/pipeline/contracts.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { fake, galleryImage } from '../fixtures/bake-app/fake-azure.ts';
import { startBakeHarness, type BakeHarness } from '../support/bake-harness.ts';

let h: BakeHarness;
/** The spec's image is the one the scripted plan locks, so the places taken at acceptance are the ones asked for. */
let sameImage: Partial<BakeSpec>;

beforeAll(async () => {
  h = await startBakeHarness('lock-order');
  sameImage = { distributions: h.spec.distributions.map((d) => (d.type === 'SharedImage' ? { ...d, galleryImageId: galleryImage() } : d)) };
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => fake.reset());

const waiting = (id: string) => h.waitFor(id, (s) => !!(s.customStatus as BakeProgress | null)?.waitingFor);
const patch = (record: RunRecord) => Number(record.outputs.version!.split('.')[2]);
const lockEnded = (record: RunRecord) => Date.parse(record.steps.find((s) => s.name === 'lock')!.endedAt!);
const woken = async (id: string) => {
  const history = (await h.client.getStatus(id, { showHistory: true })).history as { EventType: string; Name?: string }[];
  return history.some((e) => e.EventType === 'EventRaised' && e.Name === 'lockReleased');
};

describe('bake lock order', () => {
  it('grants the lock in order of arrival, not in the order the bakes reach their lock step', async () => {
    const [a, b, c] = [await h.accept(sameImage), await h.accept(sameImage), await h.accept(sameImage)];
    // The last to arrive asks first, then the second; neither may go before the first, which has not asked yet.
    await c.start();
    await waiting(c.runId);
    await b.start();
    await waiting(b.runId);
    expect(((await h.client.getStatus(c.runId)).customStatus as BakeProgress).waitingFor).toContain(a.runId);
    await a.start();
    const [ra, rb, rc] = [await h.finished(a.runId), await h.finished(b.runId), await h.finished(c.runId)];
    expect([ra.status, rb.status, rc.status]).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(lockEnded(ra)).toBeLessThanOrEqual(lockEnded(rb));
    expect(lockEnded(rb)).toBeLessThanOrEqual(lockEnded(rc));
    // Versions follow arrival: those granted after another bake planned theirs again.
    expect(patch(ra)).toBeLessThan(patch(rb));
    expect(patch(rb)).toBeLessThan(patch(rc));
    expect(rb.steps.find((s) => s.name === 'lock')!.message).toMatch(/another bake of the same image; version/);
  });

  it('arrival is acceptance, not the start of the orchestration: the record keeps it and the lock queues by it', async () => {
    const a = await h.accept(sameImage);
    await h.clock.advance(60_000);
    const b = await h.accept(sameImage);
    // B starts and reaches its lock first; A's orchestration starts a minute after B's acceptance, yet goes first.
    await b.start();
    await waiting(b.runId);
    await h.clock.advance(60_000);
    await a.start();
    const [ra, rb] = [await h.finished(a.runId), await h.finished(b.runId)];
    expect(ra.createdAt).toBe(a.acceptedAt);
    expect(Date.parse(rb.createdAt)).toBeLessThan(Date.parse(ra.steps[0]!.startedAt!));
    expect(patch(ra)).toBeLessThan(patch(rb));
  });

  it('an earlier arrival that fails before asking for the lock wakes the next one, which does not wait for its place to go stale', async () => {
    const a = await h.accept(sameImage);
    const b = await h.accept(sameImage);
    fake.reset({ behaviours: { [`planBake:${a.runId}`]: { kind: 'fail', failure: { code: 'InvalidTemplate', message: 'no such image', retryable: false } } } });
    await b.start();
    await waiting(b.runId);
    await a.start();
    const [ra, rb] = [await h.finished(a.runId), await h.finished(b.runId)];
    expect(ra.error).toMatchObject({ step: 'plan', code: 'InvalidTemplate' });
    expect(rb.status).toBe('Succeeded');
    expect(await woken(b.runId)).toBe(true);
  });

  it("the janitor's release of a run that never started hands the lock to the next arrival", async () => {
    const a = await h.accept(sameImage);
    const b = await h.accept(sameImage);
    await b.start();
    await waiting(b.runId);
    const input: ReleaseBakeLocksInput = { runId: a.runId, keys: imageLockKeys({ ...h.spec, ...sameImage }) };
    await h.client.startNew(Orchestration.releaseBakeLocks, { instanceId: `${a.runId}:release-locks`, input });
    const released = await h.waitFor(`${a.runId}:release-locks`, (s: df.DurableOrchestrationStatus) => s.runtimeStatus === 'Completed');
    expect(released.runtimeStatus).toBe('Completed');
    expect((await h.finished(b.runId)).status).toBe('Succeeded');
    expect(await woken(b.runId)).toBe(true);
  });

  it('a final record save that fails through its retries still releases every image lock, then fails the run', async () => {
    // The other image's key sorts first: the failing save travels beside its release, the held lock comes after.
    const other = galleryImage().replace(/ubuntu-web$/, 'aaa-other');
    const twoImages = { distributions: [...sameImage.distributions!, { ...sameImage.distributions![0]!, galleryImageId: other }] } as Partial<BakeSpec>;
    expect(imageLockKeys(twoImages as BakeSpec)).toEqual([lockKey(other), lockKey(galleryImage())]);
    const a = await h.accept(twoImages);
    const b = await h.accept(sameImage);
    fake.reset({ failFinalSave: [a.runId] });
    await b.start();
    await waiting(b.runId);
    await a.start();
    // The save's retries wait on durable timers: skip through them.
    for (let ended = false; !ended; ) {
      ended = ['Failed', 'Completed'].includes(String((await h.client.getStatus(a.runId)).runtimeStatus));
      if (!ended) await h.clock.advanceToNextTimer();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const failed = await h.client.getStatus(a.runId);
    expect(failed.runtimeStatus).toBe('Failed');
    expect(String(failed.output)).toMatch(/records container is unavailable/);
    for (const image of [other, galleryImage()]) {
      const { entityState } = await h.client.readEntityState<BakeLockState>(new df.EntityId(Entity.bakeLock, lockKey(image)));
      expect(entityState?.holder?.runId, image).not.toBe(a.runId);
      expect(entityState?.queue.map((w) => w.runId), image).not.toContain(a.runId);
    }
    expect((await h.finished(b.runId)).status).toBe('Succeeded');
    expect(await woken(b.runId)).toBe(true);
  });
});
