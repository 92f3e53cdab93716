/**
 * The bake orchestration's logic on the real local durable engine and the real durable-functions SDK, with the
 * activities scripted (test/fixtures/bake-app): order of steps, failure, retryable LRO, rollback, cancel,
 * watchdog, approval, lock, resume. The emulator-backed bakes are in test/e2e/bake-*.test.ts.
 */

import type * as df from 'durable-functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Activity, type OperationRef, type PlanBakeInput, type SaveRunProgressInput, type WatchOperationInput } from '../../src/activities/contracts.ts';
import { quickWindowMs } from '../../src/pipeline/polling.ts';
import type { SkippableClock } from '../../local/host/clock.ts';
import type { BakeInput, BakeProgress } from '../../src/pipeline/contracts.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import type { BakeSpec } from '../../src/template/spec.ts';
import { fake, galleryImage } from '../fixtures/bake-app/fake-azure.ts';
import { startBakeHarness, type BakeHarness } from '../support/bake-harness.ts';

let h: BakeHarness;
let clock: SkippableClock;
let client: df.DurableClient;
let spec: BakeSpec;

beforeAll(async () => {
  h = await startBakeHarness('ubuntu-web');
  ({ clock, client, spec } = h);
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => fake.reset());

const start = (overrides: Partial<BakeSpec> = {}, extra: Partial<BakeInput> = {}) => h.start(overrides, extra);
const waitFor = (id: string, done: (s: df.DurableOrchestrationStatus) => boolean, timeoutMs?: number) => h.waitFor(id, done, timeoutMs);
const finished = (id: string): Promise<RunRecord> => h.finished(id);

/** How many times the hanging first customizer has been looked at. */
const customizerLooks = () =>
  fake.called(Activity.pollOperation).filter((c) => (c.input as OperationRef).resourceId === 'beginCustomizer:customize:0').length;

/** The last progress saved under each key: the live status a watcher is left with. */
const lastProgress = () =>
  Object.fromEntries(fake.called(Activity.saveRunProgress).map((c) => { const { key, progress } = c.input as SaveRunProgressInput; return [key, progress]; }));

const stepStatus = (record: RunRecord) => Object.fromEntries(record.steps.map((s) => [s.name, s.status]));

describe('bake orchestration', () => {
  it('runs every step in docs/design.md §1 order and ends Succeeded with the staging group deleted', async () => {
    const id = await start();
    const record = await finished(id);
    expect(record.status).toBe('Succeeded');
    expect(stepStatus(record)).toEqual({
      plan: 'Succeeded',
      lock: 'Succeeded',
      stage: 'Succeeded',
      customize: 'Succeeded',
      validate: 'Succeeded',
      generalize: 'Succeeded',
      capture: 'Succeeded',
      replicate: 'Succeeded',
      promote: 'Succeeded',
      approve: 'Skipped',
      rollout: 'Succeeded',
      cleanup: 'Succeeded',
    });
    const order = fake.calls.map((c) => c.name).filter((n) => n !== Activity.pollOperation && n !== Activity.saveRunRecord && n !== Activity.saveRunProgress);
    expect(order.slice(0, 12)).toEqual([
      Activity.planBake,
      Activity.createStagingGroup,
      Activity.beginStagingNetwork,
      Activity.beginStagingVm,
      Activity.beginCustomizer,
      Activity.beginCustomizer,
      Activity.beginCustomizer,
      Activity.beginDeprovision,
      Activity.beginDeallocate,
      Activity.generalizeVm,
      Activity.beginCapture,
      Activity.beginDeleteStagingGroup,
    ]);
    expect(order.indexOf(Activity.beginPromote)).toBeGreaterThan(order.lastIndexOf(Activity.readReplication));
    expect(order.indexOf(Activity.beginScaleSetModel)).toBeGreaterThan(order.indexOf(Activity.beginPromote));
    expect(record.outputs).toMatchObject({
      version: '1.0.1',
      imageVersionId: galleryImage('1.0.1'),
      regions: { eastus: 'Completed', westeurope: 'Completed' },
      scaleSets: [{ id: spec.rollout[0]!.scaleSetId, status: 'Succeeded', updated: 3, total: 3, path: 'batches' }],
    });
    expect(record.staging).toMatchObject({ state: 'Deleted' });
    // The children hand their final progress to the bake, which saves it: it is saved all the same.
    expect(lastProgress()).toMatchObject({
      'region-eastus': { state: 'Completed', percent: 100 },
      'region-westeurope': { state: 'Completed', percent: 100 },
      'scaleset-0': { status: 'Succeeded', updated: 3, total: 3 },
    });
    expect(fake.model).toBe(galleryImage('1.0.1'));
    expect(record.endedAt).toBeDefined();
  });

  it('ends a step whose script was not run Simulated, never Succeeded, and lists it in the record and the live status', async () => {
    fake.reset({ behaviours: { 'beginCustomizer:validate:0': { kind: 'succeed', simulated: 'no isolation here' } } });
    const id = await start();
    const record = await finished(id);
    expect(record.status).toBe('Succeeded');
    expect(stepStatus(record)).toMatchObject({ customize: 'Succeeded', validate: 'Simulated', generalize: 'Succeeded' });
    expect(record.steps.find((s) => s.name === 'validate')!.message).toBe("not run (simulated): validation 1 'web-content-present' (Shell)");
    expect(record.simulatedSteps).toEqual([{ step: 'validate', operation: "validation 1 'web-content-present' (Shell)", reason: 'no isolation here' }]);
    const progress = (await client.getStatus(id)).customStatus as BakeProgress;
    expect(progress.steps.find((s) => s.name === 'validate')!.status).toBe('Simulated');
  });

  it('gives a customizer the time its template timeout says: the Run Command and the watchdog', async () => {
    fake.reset({ behaviours: { 'beginCustomizer:customize:0': { kind: 'hang' } } });
    const customizers = spec.customizers.map((c, i) => (i === 0 ? { ...c, timeout: { iso: 'PT10M', ms: 600_000 } } : c));
    const id = await start({ customizers, buildTimeoutInMinutes: 600 });
    await waitFor(id, () => customizerLooks() > 2);
    expect((fake.called(Activity.beginCustomizer)[0]!.input as { limitMs: number }).limitMs).toBe(600_000);
    for (let i = 0; i < 4 && !fake.records.get(id)?.endedAt; i++) {
      await clock.advance(5 * 60_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const record = await finished(id);
    expect(record.error).toMatchObject({ step: 'customize', code: 'Timeout', message: "customizer 1 'web-content' (Shell) did not finish within its watchdog (15 min)" });
  });

  it('fails naming the step, exit code and last lines when a customizer exits 3, and still deletes the staging group', async () => {
    fake.reset({
      behaviours: {
        'beginCustomizer:customize:1': {
          kind: 'fail',
          failure: { code: 'ScriptFailed', message: "script 'robots' exited with code 3", retryable: false, exitCode: 3, lastLines: ['downloading', 'checksum mismatch'] },
        },
      },
    });
    const record = await finished(await start());
    expect(record.status).toBe('Failed');
    expect(record.error).toEqual({
      step: 'customize',
      code: 'ScriptFailed',
      message: "customizer 2 'robots' (File): script 'robots' exited with code 3",
      exitCode: 3,
      lastLines: ['downloading', 'checksum mismatch'],
    });
    expect(stepStatus(record)).toMatchObject({ customize: 'Failed', validate: 'Skipped', capture: 'Skipped', cleanup: 'Succeeded' });
    expect(record.staging).toMatchObject({ state: 'Deleted' });
    expect(fake.called(Activity.beginCapture)).toHaveLength(0);
  });

  it('keeps the staging group when errorHandling.onCustomizerError is abort, and says so', async () => {
    fake.reset({
      behaviours: { 'beginCustomizer:customize:0': { kind: 'fail', failure: { code: 'ScriptFailed', message: 'exit 1', retryable: false, exitCode: 1 } } },
    });
    const record = await finished(await start({ errorHandling: { onCustomizerError: 'abort', onValidationError: 'cleanup' } }));
    expect(record.status).toBe('Failed');
    expect(record.staging).toMatchObject({ state: 'Kept', reason: expect.stringMatching(/onCustomizerError is abort/) });
    expect(fake.called(Activity.beginDeleteStagingGroup)).toHaveLength(0);
  });

  it('begins a failed but retryable long-running operation again and succeeds', async () => {
    fake.reset({
      behaviours: { beginStagingVm: { kind: 'fail', times: 1, failure: { code: 'InternalServerError', message: 'LRO failed', retryable: true } } },
    });
    const record = await finished(await start());
    expect(record.status).toBe('Succeeded');
    expect(record.steps.find((s) => s.name === 'stage')!.attempts).toBe(4);
    expect(fake.called(Activity.beginStagingVm)).toHaveLength(2);
  });

  describe('a build VM create refused for vCPU quota', () => {
    const quota = { what: 'standardDSv3Family Cores', location: 'eastus', limit: 50, used: 50, required: 2 };
    const refusal = { code: 'OperationNotAllowed', message: 'exceeding approved standardDSv3Family Cores quota', retryable: false, quota };
    /** Skips each quota wait once the bake reports it, until the bake ends; returns the waits it saw. */
    const skipWaits = async (id: string): Promise<string[]> => {
      const seen: string[] = [];
      for (let i = 0; i < 40 && !fake.records.get(id)?.endedAt; i++) {
        const status = await client.getStatus(id);
        const waiting = (status.customStatus as BakeProgress | null)?.waitingFor;
        if (waiting?.startsWith('waiting for vCPU quota') && waiting !== seen.at(-1)) seen.push(waiting);
        await clock.advanceToNextTimer();
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      return seen;
    };

    it('waits on a durable timer and tries again, saying so, until the create goes through', async () => {
      fake.reset({ behaviours: { beginStagingVm: { kind: 'fail', times: 2, failure: refusal } } });
      const id = await start();
      const waits = await skipWaits(id);
      const record = await finished(id);
      expect(record.status).toBe('Succeeded');
      expect(fake.called(Activity.beginStagingVm)).toHaveLength(3);
      expect(waits).toEqual([
        'waiting for vCPU quota in eastus: standardDSv3Family Cores 50/50 used, 2 required; first in line; woken when a Kiln bake frees its build VM, next try in 15 s at the latest',
        'waiting for vCPU quota in eastus: standardDSv3Family Cores 50/50 used, 2 required; first in line; woken when a Kiln bake frees its build VM, next try in 30 s at the latest',
      ]);
      expect(record.steps.find((s) => s.name === 'stage')).toMatchObject({ status: 'Succeeded', message: expect.stringMatching(/^waited \d+ s for vCPU quota \(2 refusals\)$/) });
    });

    it('fails with the quota error once the quota wait is spent', async () => {
      fake.reset({ behaviours: { beginStagingVm: { kind: 'fail', failure: refusal } } });
      const id = await start();
      // The plan's quota wait is 60 min: tries at 0, 15, 45, 105 s, then every 2 min to 3585 s, and a last one at the hour.
      for (let i = 0; i < 200 && !fake.records.get(id)?.endedAt; i++) {
        await clock.advanceToNextTimer();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const record = await finished(id);
      expect(record.status).toBe('Failed');
      expect(record.error).toMatchObject({ step: 'stage', code: 'OperationNotAllowed', message: expect.stringContaining('exceeding approved') });
      expect(fake.called(Activity.beginStagingVm)).toHaveLength(34);
    });

    it('is cut short by a cancel: the bake ends Canceled without another try', async () => {
      fake.reset({ behaviours: { beginStagingVm: { kind: 'fail', failure: refusal } } });
      const id = await start();
      await waitFor(id, (s) => !!(s.customStatus as BakeProgress | null)?.waitingFor?.startsWith('waiting for vCPU quota'));
      await client.raiseEvent(id, 'cancel', null);
      const record = await finished(id);
      expect(record.status).toBe('Canceled');
      expect(record.steps.find((s) => s.name === 'stage')!.status).toBe('Canceled');
      expect(fake.called(Activity.beginStagingVm)).toHaveLength(1);
    });
  });

  it('rolls the scale set back to the previous version when upgraded instances turn unhealthy', async () => {
    fake.reset({ unhealthy: ['1'] });
    const record = await finished(await start());
    expect(record.status).toBe('Failed');
    expect(record.error).toMatchObject({ step: 'rollout', code: 'RolledBack' });
    expect(record.error!.message).toMatch(/1 of 2 upgraded instances not healthy \(1 Unhealthy\).*rolled back to .*versions\/1\.0\.0/);
    expect(record.outputs.scaleSets).toEqual([{ id: spec.rollout[0]!.scaleSetId, status: 'RolledBack', updated: 0, total: 3, path: 'batches' }]);
    const models = fake.called(Activity.beginScaleSetModel).map((c) => (c.input as { image: { id: string } }).image.id);
    expect(models).toEqual([record.outputs.imageVersionId, galleryImage('1.0.0')]);
    expect(fake.model).toBe(galleryImage('1.0.0'));
    const upgrades = fake.called(Activity.beginInstanceUpgrade).map((c) => (c.input as { instanceIds: string[] }).instanceIds);
    expect(upgrades).toEqual([['0', '1'], ['0', '1']]);
    expect(lastProgress()['scaleset-0']).toMatchObject({ status: 'RolledBack', message: expect.stringMatching(/rolled back to/) });
  });

  it("follows Azure's rolling upgrade on a Rolling scale set instead of upgrading instances itself", async () => {
    fake.reset({ upgradeMode: 'Rolling' });
    const record = await finished(await start());
    expect(record.status).toBe('Succeeded');
    expect(record.outputs.scaleSets).toEqual([{ id: spec.rollout[0]!.scaleSetId, status: 'Succeeded', updated: 3, total: 3, path: 'rolling' }]);
    expect(fake.called(Activity.beginInstanceUpgrade)).toEqual([]);
    expect(fake.called(Activity.readRollingUpgrade).length).toBeGreaterThan(3);
  });

  it('rolls a Rolling scale set back when Azure\'s rolling upgrade ends Faulted', async () => {
    fake.reset({ upgradeMode: 'Rolling', rollingEnds: 'Faulted' });
    const record = await finished(await start());
    expect(record.error).toMatchObject({ step: 'rollout', code: 'RolledBack' });
    expect(record.error!.message).toMatch(/Azure's rolling upgrade ended Faulted: MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade.*rolled back to .*versions\/1\.0\.0/);
    expect([...fake.running.values()].every((image) => image === galleryImage('1.0.0'))).toBe(true);
    expect(record.outputs.scaleSets[0]).toMatchObject({ status: 'RolledBack', path: 'rolling' });
  });

  it("cancels Azure's rolling upgrade when the bake is canceled during the rollout", async () => {
    fake.reset({ upgradeMode: 'Rolling', rollingEnds: 'Hang' });
    const id = await start();
    await waitFor(id, () => fake.called(Activity.readRollingUpgrade).length > 2);
    await client.raiseEvent(id, 'cancel', null);
    const record = await finished(id);
    expect(record.status).toBe('Canceled');
    // The bake ends without waiting for its children: the rollout child finishes its own cancel.
    const child = await waitFor(`${id}:rollout:0`, (s) => s.runtimeStatus === 'Completed');
    expect(fake.called(Activity.beginCancelRollingUpgrade)).toHaveLength(1);
    expect(child.output).toMatchObject({ status: 'Canceled', path: 'rolling', message: expect.stringContaining("Azure's rolling upgrade was cancelled") });
  });

  it("takes Kiln's batches on a Rolling scale set when the template says mode batches, restoring the policy after", async () => {
    fake.reset({ upgradeMode: 'Rolling' });
    const record = await finished(await start({ rollout: [{ ...spec.rollout[0]!, mode: 'batches' }] }));
    expect(record.outputs.scaleSets[0]).toMatchObject({ status: 'Succeeded', path: 'batches', updated: 3 });
    const modes = fake.called(Activity.beginScaleSetModel).map((c) => (c.input as { upgradeMode?: string }).upgradeMode);
    expect(modes).toEqual(['Manual', 'Rolling']);
    expect(fake.rolling).toBeNull();
  });

  it('reads the members again before each batch: autoscale removals drop out, additions are gated, protected ones stay', async () => {
    fake.reset({ instances: ['0', '1', '2', '3'], protectedIds: ['3'], autoscale: { remove: '2', add: '4' } });
    const record = await finished(await start());
    expect(record.status).toBe('Succeeded');
    expect(record.outputs.scaleSets).toEqual([{ id: spec.rollout[0]!.scaleSetId, status: 'Succeeded', updated: 3, total: 4, path: 'batches', protected: ['3'] }]);
    expect(fake.called(Activity.beginInstanceUpgrade).map((c) => (c.input as { instanceIds: string[] }).instanceIds)).toEqual([['0', '1']]);
    expect(fake.running.get('3')).toBe(galleryImage('1.0.0'));
  });

  it('ends Canceled and clean when canceled during customization', async () => {
    fake.reset({ behaviours: { 'beginCustomizer:customize:0': { kind: 'hang' } } });
    const id = await start();
    await waitFor(id, () => customizerLooks() > 2);
    await client.raiseEvent(id, 'cancel', null);
    const record = await finished(id);
    expect(record.status).toBe('Canceled');
    expect(record.error).toMatchObject({ step: 'customize', code: 'Canceled' });
    expect(stepStatus(record)).toMatchObject({ customize: 'Canceled', validate: 'Canceled', rollout: 'Canceled', cleanup: 'Succeeded' });
    expect(record.staging).toMatchObject({ state: 'Deleted' });
    // The sub-orchestration polling the hung Run Command (the first wait that outlasted one look) heard the cancel too.
    const poller = await waitFor(`${id}:wait:0`, (s) => s.runtimeStatus === 'Completed');
    expect(poller.output).toEqual({ state: 'Canceled' });
  });

  it('fails a hung Run Command by its watchdog, naming the customizer, long before the build timeout', async () => {
    fake.reset({ behaviours: { 'beginCustomizer:customize:0': { kind: 'hang' } } });
    const id = await start({ buildTimeoutInMinutes: 600 });
    await waitFor(id, () => customizerLooks() > 2);
    for (let i = 0; i < 12 && !fake.records.get(id)?.endedAt; i++) {
      await clock.advance(10 * 60_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const record = await finished(id);
    expect(record.error).toMatchObject({
      step: 'customize',
      code: 'Timeout',
      message: "customizer 1 'web-content' (Shell) did not finish within its watchdog (95 min)",
    });
    expect(record.staging).toMatchObject({ state: 'Deleted' });
  });

  it('waits for approval before rollout, and fails when none comes in time', async () => {
    const approval = { required: true, timeout: { iso: 'PT1H', ms: 3_600_000 } };
    const approved = await start({ approval });
    await waitFor(approved, (s) => (s.customStatus as BakeProgress | null)?.step === 'approve' && !!(s.customStatus as BakeProgress).waitingFor);
    expect(fake.called(Activity.beginScaleSetModel)).toHaveLength(0);
    await client.raiseEvent(approved, 'approve', { by: 'alice' });
    const record = await finished(approved);
    expect(record.status).toBe('Succeeded');
    expect(record.steps.find((s) => s.name === 'approve')).toMatchObject({ status: 'Succeeded', message: 'approved by alice' });

    const ignored = await start({ approval });
    await waitFor(ignored, (s) => !!(s.customStatus as BakeProgress | null)?.waitingFor?.startsWith('approval'));
    await clock.advance(3_600_000 + 1_000);
    const timedOut = await finished(ignored);
    expect(timedOut.error).toMatchObject({ step: 'approve', code: 'ApprovalTimedOut', message: 'no approval within PT1H' });
  });

  it('watches a progress-less wait, paced by its age, where the plan says a quick look is cheaper than a durable one', async () => {
    fake.reset({ pollQuickMs: 1, behaviours: { 'beginCustomizer:customize:0': { kind: 'succeed', looks: 4 } } });
    const record = await finished(await start());
    expect(record.status).toBe('Succeeded');
    const watches = fake.called(Activity.watchOperation).map((c) => c.input as WatchOperationInput).filter((w) => w.operation.resourceId === 'beginCustomizer:customize:0');
    // The begin's own look, then three more, each a watch (one activity) rather than a timer and a pollOperation.
    expect(customizerLooks()).toBe(1);
    expect(watches).toHaveLength(3);
    for (const watch of watches) {
      expect(watch.forMs).toBe(quickWindowMs({ minMs: 5 }));
      // 1 % × 1 ms / 5 ms, counted from the operation's start.
      expect(watch.paced?.fraction).toBeCloseTo(0.002);
      expect(Date.parse(watch.paced!.from)).toBeLessThanOrEqual(Date.parse(record.endedAt!));
    }
    // Without the quick floor in the plan (or with it at the poller's), timers and plain looks, as before.
    fake.reset({ behaviours: { 'beginCustomizer:customize:0': { kind: 'succeed', looks: 4 } } });
    expect((await finished(await start())).status).toBe('Succeeded');
    expect(customizerLooks()).toBe(4);
    expect(fake.called(Activity.watchOperation).filter((c) => (c.input as WatchOperationInput).operation.resourceId === 'beginCustomizer:customize:0')).toEqual([]);
  });

  it('makes a second bake of the same image wait for the lock, then plan the next version', async () => {
    fake.reset({ behaviours: { 'beginCustomizer:customize:0': { kind: 'succeed', looks: 8 } } });
    const first = await start();
    await waitFor(first, (s) => (s.customStatus as BakeProgress | null)?.step === 'customize');
    const second = await start();
    const waiting = await waitFor(second, (s) => !!(s.customStatus as BakeProgress | null)?.waitingFor);
    expect((waiting.customStatus as BakeProgress).waitingFor).toMatch(new RegExp(`held by run ${first}`));
    const [a, b] = [await finished(first), await finished(second)];
    expect([a.status, b.status]).toEqual(['Succeeded', 'Succeeded']);
    expect(Date.parse(b.steps.find((s) => s.name === 'lock')!.endedAt!)).toBeGreaterThanOrEqual(Date.parse(a.endedAt!) - 1_000);
    expect(b.outputs.version).not.toBe(a.outputs.version);
    // Planned again after the lock without a second preflight: only the version was stale.
    const plans = fake.called(Activity.planBake).map((c) => c.input as PlanBakeInput).filter((p) => p.runId === second);
    expect(plans.map((p) => p.preflighted)).toEqual([undefined, true]);
    // The lock handed over: the first bake's release woke the second (no timer had to come round).
    const history = (await client.getStatus(second, { showHistory: true })).history as { EventType: string; Name?: string }[];
    expect(history.filter((e) => e.EventType === 'EventRaised').map((e) => e.Name)).toContain('lockReleased');
  });

  it('resumes a run that failed in replication from its captured version, without baking again', async () => {
    fake.reset({ behaviours: { beginReplication: { kind: 'fail', failure: { code: 'ReplicationFailed', message: 'westeurope: quota', retryable: false } } } });
    const failed = await finished(await start());
    expect(failed.error).toMatchObject({ step: 'replicate' });
    fake.reset();
    const resumed = await finished(await start({}, { trigger: 'retry', resumeFrom: failed.id }));
    expect(resumed.status).toBe('Succeeded');
    expect(resumed.outputs.version).toBe(failed.outputs.version);
    expect(stepStatus(resumed)).toMatchObject({ stage: 'Skipped', customize: 'Skipped', capture: 'Skipped', replicate: 'Succeeded' });
    expect(resumed.steps.find((s) => s.name === 'capture')!.message).toBe(`reused from run ${failed.id}`);
    for (const name of [Activity.beginStagingVm, Activity.beginCustomizer, Activity.beginCapture]) expect(fake.called(name)).toHaveLength(0);
    expect((fake.called(Activity.planBake)[0]!.input as { reuseVersion?: string }).reuseVersion).toBe(failed.outputs.version);
  });

  it('saves the record once per step boundary, and every step\'s start and end reach a save', async () => {
    const id = await start();
    const record = await finished(id);
    const saves = fake.called(Activity.saveRunRecord).map((c) => c.input as RunRecord);
    const ran = record.steps.filter((step) => step.status !== 'Skipped').map((step) => step.name);
    // One save per step started, plus the final one; none repeats the one before.
    expect(saves.length).toBe(ran.length + 1);
    for (const [index, saved] of saves.entries()) if (index > 0) expect(saved).not.toEqual(saves[index - 1]);
    for (const name of ran) {
      const statusIn = (saved: RunRecord) => saved.steps.find((step) => step.name === name)!.status;
      const running = saves.findIndex((saved) => statusIn(saved) === 'Running');
      expect(running, name).toBeGreaterThanOrEqual(0);
      expect(saves.slice(running + 1).some((saved) => statusIn(saved) === 'Succeeded'), name).toBe(true);
    }
    expect(saves.at(-1)).toEqual(record);
  });
});
