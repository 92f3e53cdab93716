/**
 * The bake orchestration's less travelled paths, on the real durable engine with scripted activities: cancel during
 * replication and rollout, a cleanup that fails, a wait long enough to continue-as-new, validation policies
 * (continueDistributeOnFailure, sourceValidationOnly).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Activity, type OperationRef, type WatchOperationInput } from '../../src/activities/contracts.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { fake } from '../fixtures/bake-app/fake-azure.ts';
import { startBakeHarness, type BakeHarness } from '../support/bake-harness.ts';

let h: BakeHarness;

beforeAll(async () => {
  h = await startBakeHarness('edges');
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => fake.reset());

const stepStatus = (record: RunRecord) => Object.fromEntries(record.steps.map((s) => [s.name, s.status]));
const looksAt = (key: string) => fake.called(Activity.pollOperation).filter((c) => (c.input as OperationRef).resourceId === key).length;

describe('cancel while waiting in a sub-orchestration', () => {
  it('during replication: ends Canceled, nothing promoted or rolled out, staging deleted', async () => {
    fake.reset({ behaviours: { 'replicate:westeurope': { kind: 'hang' } } });
    const id = await h.start();
    await h.waitFor(id, () => fake.called(Activity.readReplication).filter((c) => (c.input as { region: string }).region === 'westeurope').length > 2);
    await h.client.raiseEvent(id, 'cancel', null);
    const record = await h.finished(id);
    expect(record.status).toBe('Canceled');
    expect(record.error).toMatchObject({ step: 'replicate', code: 'Canceled' });
    expect(stepStatus(record)).toMatchObject({ capture: 'Succeeded', replicate: 'Canceled', promote: 'Canceled', rollout: 'Canceled', cleanup: 'Succeeded' });
    expect(fake.called(Activity.beginPromote)).toHaveLength(0);
    expect(fake.called(Activity.beginScaleSetModel)).toHaveLength(0);
    expect(record.staging).toMatchObject({ state: 'Deleted' });
  });

  it('while work started alongside is still in flight: each is waited for, none is started twice', async () => {
    fake.reset({ behaviours: { [Activity.beginCapture]: { kind: 'hang' } } });
    const id = await h.start();
    await h.waitFor(id, () => looksAt(Activity.beginCapture) > 1);
    // Capture ends; the staging group's delete and the replicate step's record save go out beside its first call.
    const letGo = fake.hold(Activity.beginDeleteStagingGroup, Activity.saveRunRecord);
    const calls = (name: string) => fake.called(name).length;
    const [deletes, saves] = [calls(Activity.beginDeleteStagingGroup), calls(Activity.saveRunRecord)];
    fake.scenario.behaviours[Activity.beginCapture] = { kind: 'succeed' };
    await h.waitFor(id, () => calls(Activity.beginReplication) > 0 && calls(Activity.beginDeleteStagingGroup) > deletes && calls(Activity.saveRunRecord) > saves);
    await h.client.raiseEvent(id, 'cancel', null);
    const history = async () => (await h.client.getStatus(id, { showHistory: true })).history as { EventType: string; Name?: string }[];
    // The episode that heard the cancel is committed with it: it has gone on to wait for the held work.
    await vi.waitFor(async () => expect((await history()).some((e) => e.EventType === 'EventRaised' && e.Name === 'cancel')).toBe(true), { timeout: 20_000, interval: 10 });
    letGo();
    const record = await h.finished(id);
    expect(record.status).toBe('Canceled');
    const events = await history();
    const scheduled = (name: string) => events.filter((e) => e.EventType === 'TaskScheduled' && e.Name === name).length;
    // The delete begun beside replication, then cleanup's own; never the first one again.
    expect(scheduled(Activity.beginDeleteStagingGroup)).toBe(2);
  });

  it('during a rollout batch: ends Canceled, and the record says where the scale set was left', async () => {
    fake.reset({ behaviours: { [Activity.beginInstanceUpgrade]: { kind: 'hang' } } });
    const id = await h.start();
    await h.waitFor(id, () => looksAt(Activity.beginInstanceUpgrade) > 2);
    await h.client.raiseEvent(id, 'cancel', null);
    const record = await h.finished(id);
    expect(record.status).toBe('Canceled');
    expect(record.error).toMatchObject({ step: 'rollout', code: 'Canceled' });
    expect(stepStatus(record)).toMatchObject({ promote: 'Succeeded', rollout: 'Canceled', cleanup: 'Succeeded' });
    expect(record.outputs.scaleSets).toEqual([{ id: h.spec.rollout[0]!.scaleSetId, status: 'Failed', updated: 0, total: 3, path: 'batches' }]);
  });
});

describe('cleanup', () => {
  it('that fails leaves the run\'s outcome, and records the staging group as still present, with why', async () => {
    fake.reset({ behaviours: { [Activity.beginDeleteStagingGroup]: { kind: 'fail', failure: { code: 'ScopeLocked', message: 'a delete lock is on the group', retryable: false } } } });
    const record = await h.finished(await h.start());
    expect(stepStatus(record).cleanup).toBe('Failed');
    expect(record.staging).toMatchObject({ state: 'Present' });
    expect(record.staging!.reason).toMatch(/ScopeLocked|delete lock/);
    expect(record.staging!.reason).toMatch(/janitor/);
  });
});

describe('long waits', () => {
  it('an operation needing more looks than one poller execution allows continues as new and still ends Succeeded', async () => {
    fake.reset({ behaviours: { [Activity.beginCapture]: { kind: 'succeed', looks: 130 } } });
    const id = await h.start();
    const record = await h.finished(id);
    expect(record.status).toBe('Succeeded');
    expect(looksAt(Activity.beginCapture)).toBeGreaterThanOrEqual(130);
    // The poller started over (continue-as-new): its current history holds fewer looks than were made.
    const pollers = (await h.client.getStatusAll()).filter((s) => s.instanceId.startsWith(`${id}:wait:`));
    const histories = await Promise.all(pollers.map(async (p) => (await h.client.getStatus(p.instanceId, { showHistory: true })).history as { EventType: string }[]));
    const longest = Math.max(...histories.map((events) => events.filter((e) => e.EventType === 'TaskCompleted').length));
    expect(longest).toBeLessThan(130);
  });
});

describe('an operation stuck at one percent', () => {
  it('is watched once at its estimated end, across continue-as-new too (then looked at on the rule)', async () => {
    fake.reset({ behaviours: { [Activity.beginCapture]: { kind: 'succeed', looks: 130, percent: 99 } } });
    const record = await h.finished(await h.start());
    expect(record.status).toBe('Succeeded');
    // At 99 % the estimated end is always now: one watch, not one per poller execution (after 100 looks it starts over).
    const watches = fake.called(Activity.watchOperation).filter((c) => (c.input as WatchOperationInput).operation.resourceId === Activity.beginCapture);
    expect(watches).toHaveLength(1);
    expect(looksAt(Activity.beginCapture) + watches.length).toBeGreaterThanOrEqual(130);
  });
});

describe('validation policies', () => {
  const failingCheck = { 'beginCustomizer:validate:0': { kind: 'fail', failure: { code: 'ScriptFailed', message: 'exit code 1', retryable: false, exitCode: 1 } } } as const;

  it('continueDistributeOnFailure: the version is captured and replicated, never promoted or rolled out, and the run fails', async () => {
    fake.reset({ behaviours: failingCheck });
    const record = await h.finished(await h.start({ validation: { ...h.spec.validation, continueDistributeOnFailure: true } }));
    expect(record.status).toBe('Failed');
    expect(stepStatus(record)).toMatchObject({ validate: 'Failed', capture: 'Succeeded', replicate: 'Succeeded', promote: 'Skipped', rollout: 'Skipped' });
    expect(fake.called(Activity.beginPromote)).toHaveLength(0);
    expect(fake.called(Activity.beginScaleSetModel)).toHaveLength(0);
  });

  it('without it, a failed validation stops before capture', async () => {
    fake.reset({ behaviours: failingCheck });
    const record = await h.finished(await h.start({ validation: { ...h.spec.validation, continueDistributeOnFailure: false } }));
    expect(record.status).toBe('Failed');
    expect(fake.called(Activity.beginCapture)).toHaveLength(0);
  });

  it('sourceValidationOnly: validates the source as it is, makes no image', async () => {
    const record = await h.finished(await h.start({ validation: { ...h.spec.validation, sourceValidationOnly: true } }));
    expect(record.status).toBe('Succeeded');
    expect(stepStatus(record)).toMatchObject({ customize: 'Skipped', validate: 'Succeeded', capture: 'Skipped', replicate: 'Skipped', rollout: 'Skipped' });
    expect(fake.called(Activity.beginCustomizer).map((c) => (c.input as { phase: string }).phase)).toEqual(['validate']);
    expect(fake.called(Activity.beginCapture)).toHaveLength(0);
    // No image was made, so none is reported (the planned one stays a plan).
    expect(record.outputs.version).toBeUndefined();
    expect(record.outputs.imageVersionId).toBeUndefined();
  });
});
