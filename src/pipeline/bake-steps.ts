/** The bake's steps (docs/design.md §1), one generator each; src/pipeline/bake.ts runs them in order. */

import * as df from 'durable-functions';
import {
  Activity,
  type BakePlan,
  type LoadRunRecordOutput,
  type OperationStatus,
  type PlanBakeOutput,
  type PlannedDistribution,
  type SaveRunProgressInput,
} from '../activities/contracts.ts';
import { imageLocks, type AcquireRequest, type AcquireResult } from './bake-lock.ts';
import { BakeEvent, childInstanceId, Entity, Orchestration, type ApproveEvent } from './contracts.ts';
import { unexpectedFailure, type BakeRun } from './bake-run.ts';
import { BakeCanceled, earliest, StepFailed, type Flowing } from './flow.ts';
import { nextPollDelay } from './polling.ts';
import type { ReplicateRegionInput, ReplicateRegionOutput } from './replicate.ts';
import { announceFreedBuildVm, askWhetherQuotaWaiters, freeBuildVmChild, freedBuildVm, freedRequest, operationWaitingForQuota } from './quota-wait.ts';
import type { QuotaFreedResult } from './quota-queue.ts';
import { releaseLocks } from './release-locks.ts';
import { resumePlan } from './resume.ts';
import type { RolloutInput, RolloutOutput } from './rollout.ts';
import { customizerWatchdogMs, describeMs, lockLeaseMs, stepLimitMs, WATCHDOG_MS } from './watchdogs.ts';

type SharedImage = Extract<PlannedDistribution, { type: 'SharedImage' }>;

const sharedImages = (plan: BakePlan) => plan.distributions.filter((d): d is SharedImage => d.type === 'SharedImage');

// ---- 1 plan ---------------------------------------------------------------------------------------------------

/** Names the run's resources and picks the version; on a resume, reuses what the failed run finished. */
export function* plan(run: BakeRun): Flowing<void> {
  const { resumeFrom } = run.input;
  if (resumeFrom) {
    const previous = yield* run.flow.call<LoadRunRecordOutput>(Activity.loadRunRecord, { runId: resumeFrom });
    if (!previous) {
      throw new StepFailed('plan', { code: 'ResumeSourceNotFound', message: `resumeFrom: no run ${resumeFrom}`, retryable: false });
    }
    run.resume = resumePlan(previous);
    run.skip(run.resume.reused, `reused from run ${resumeFrom}`);
    run.record = { ...run.record, outputs: { ...run.record.outputs, ...run.resume.outputs } };
  }
  const bakePlan = yield* planNamesAndVersion(run);
  skipWhatTheTemplateLeavesOut(run, bakePlan);
  const image = sharedImages(bakePlan)[0];
  const noted = [...(bakePlan.preflightNotes ?? []), ...(bakePlan.rolloutNotes ?? [])];
  const notes = noted.length ? `; ${noted.join('; ')}` : '';
  run.settle('Succeeded', `${image ? `version ${image.version}, ` : ''}staging group ${bakePlan.staging.resourceGroupName}${notes}`);
}

/** The plan activity: resource names from the run id, the next version (read from the gallery), the poll bounds. */
function* planNamesAndVersion(run: BakeRun): Flowing<BakePlan> {
  const earlier = run.plan;
  const planned = yield* run.flow.call<PlanBakeOutput>(Activity.planBake, {
    runId: run.input.runId,
    spec: run.spec,
    now: run.flow.now().toISOString(),
    ...(run.resume?.reuseVersion ? { reuseVersion: run.resume.reuseVersion } : {}),
    // Planned again after the lock: only the version may be stale, and preflight's notes stand.
    ...(earlier ? { preflighted: true } : {}),
  });
  if (!planned.ok) throw new StepFailed(run.currentStep(), planned.error);
  const bakePlan = earlier?.preflightNotes ? { ...planned.value, preflightNotes: earlier.preflightNotes } : planned.value;
  run.plan = bakePlan;
  run.flow.poll = bakePlan.poll;
  const image = sharedImages(bakePlan)[0];
  run.record = {
    ...run.record,
    outputs: {
      ...run.record.outputs,
      // Only a captured version is reported as `version`; until then it is what the run means to make.
      ...(image ? { plannedVersion: image.version } : {}),
      ...(bakePlan.sourceVersion ? { sourceVersion: bakePlan.sourceVersion } : {}),
    },
  };
  return bakePlan;
}

function skipWhatTheTemplateLeavesOut(run: BakeRun, bakePlan: BakePlan): void {
  const { spec } = run;
  if (spec.validation.sourceValidationOnly) {
    run.skip(['customize'], 'validation.sourceValidationOnly: the source image is validated as it is');
    run.skip(['generalize', 'capture', 'replicate', 'promote', 'approve', 'rollout'], 'validation.sourceValidationOnly: no image is made');
  }
  if (spec.customizers.length === 0) run.skip(['customize'], 'no customizers');
  if (spec.validation.inVMValidations.length === 0) run.skip(['validate'], 'no inVMValidations');
  if (sharedImages(bakePlan).length === 0) run.skip(['replicate', 'promote'], 'no SharedImage distribution');
  if (!spec.approval.required) run.skip(['approve'], 'no approval required');
  if (spec.rollout.length === 0) run.skip(['rollout'], 'no rollout targets');
}

// ---- 2 lock ---------------------------------------------------------------------------------------------------

/**
 * Takes the bake lock on every image the bake writes, in a fixed order (no deadlock between two bakes).
 * A lock held by another run, or promised to an earlier arrival, is WAITED for; when another bake held it since this
 * one was accepted, the version is planned again, since that bake may have taken it.
 */
export function* lock(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  // The same keys the run was queued on at acceptance (run.lockKeys), with the image ids to name in messages.
  const images = imageLocks(run.spec);
  const leaseMs = lockLeaseMs(run.spec, bakePlan.osType);
  let waited = false;
  let behind = false;
  const startedAt = run.flow.now().getTime();
  for (const [key, image] of images) {
    for (;;) {
      const now = run.flow.now();
      const request: AcquireRequest = {
        runId: run.input.runId,
        now: now.toISOString(),
        leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
        staleAfterMs: 3 * bakePlan.poll.maxMs + 60_000,
        arrivedAt: run.record.createdAt,
      };
      const result = yield* run.flow.entity<AcquireResult>(Entity.bakeLock, key, 'acquire', request);
      if (result.granted) {
        behind ||= result.behind === true;
        break;
      }
      if (now >= run.buildDeadline.at) {
        throw new StepFailed('lock', {
          code: 'Timeout',
          message: `the bake lock on ${image} stayed with run ${result.holder} past ${run.buildDeadline.reason}`,
          retryable: false,
        });
      }
      if (!waited) yield* run.waiting(`the bake lock on ${image}, held by run ${result.holder}`);
      waited = true;
      // Woken by the release; the slow timer keeps the queue place and outlives a holder that died.
      const delay = nextPollDelay(now.getTime() - startedAt, bakePlan.poll);
      yield* run.flow.event(BakeEvent.lockReleased, new Date(Math.min(now.getTime() + delay, run.buildDeadline.at.getTime())));
    }
  }
  if (behind) {
    const replanned = sharedImages(yield* planNamesAndVersion(run))[0];
    run.settle('Succeeded', `${waited ? 'waited for' : 'after'} another bake of the same image${replanned ? `; version ${replanned.version}` : ''}`);
  }
}

/**
 * Gives every lock back (also those only queued for: that leaves the queue) and wakes the next waiter; when the
 * bake's build VM is gone, tells the region's quota line in the same round trip and wakes the waiters it names.
 */
export function* unlock(run: BakeRun): Flowing<void> {
  const freed = freedBuildVm(run);
  const told = freed && run.flow.context.df.callEntity(new df.EntityId(Entity.buildQuota, freed.key), 'freed', freedRequest(run.flow, freed.request));
  if (told) yield* run.flow.startAlongside(told, { ordered: false });
  yield* releaseLocks(run.flow, run.input.runId, run.lockKeys);
  if (!freed || !told) return;
  yield* run.flow.flush();
  yield* announceFreedBuildVm(run.flow, freed.key, freed.request, told.result as QuotaFreedResult);
}

// ---- 3 stage --------------------------------------------------------------------------------------------------

export function* stage(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  const { staging } = bakePlan;
  run.record = { ...run.record, staging: { resourceGroupId: staging.resourceGroupId, state: 'Present' } };
  yield* run.operation(
    `staging resource group ${staging.resourceGroupName}`,
    Activity.createStagingGroup,
    { plan: bakePlan, templateName: run.input.templateName },
    WATCHDOG_MS.stagingGroup,
  );
  if (staging.createNetwork) {
    yield* run.operation(`staging network in ${staging.resourceGroupName}`, Activity.beginStagingNetwork, { plan: bakePlan }, WATCHDOG_MS.stagingNetwork);
  }
  yield* operationWaitingForQuota(run, `staging VM ${staging.vmName}`, Activity.beginStagingVm, { plan: bakePlan, spec: run.spec }, WATCHDOG_MS.stagingVm[bakePlan.osType]);
}

// ---- 4 customize ----------------------------------------------------------------------------------------------

export function* customize(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  for (const [index, customizer] of run.spec.customizers.entries()) {
    try {
      const buildLeftMs = run.buildDeadline.at.getTime() - run.flow.now().getTime();
      yield* run.operation(
        `customizer ${index + 1} '${customizer.name}' (${customizer.type})`,
        Activity.beginCustomizer,
        { plan: bakePlan, spec: run.spec, phase: 'customize', index, limitMs: stepLimitMs(customizer, buildLeftMs) },
        customizerWatchdogMs(customizer, buildLeftMs),
      );
    } catch (error) {
      if (error instanceof StepFailed && run.spec.errorHandling.onCustomizerError === 'abort') {
        run.keepStagingReason = 'errorHandling.onCustomizerError is abort: the staging group is kept for inspection';
      }
      throw error;
    }
  }
}

// ---- 5 validate -----------------------------------------------------------------------------------------------

export function* validate(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  const { validation, errorHandling } = run.spec;
  for (const [index, check] of validation.inVMValidations.entries()) {
    try {
      const buildLeftMs = run.buildDeadline.at.getTime() - run.flow.now().getTime();
      yield* run.operation(
        `validation ${index + 1} '${check.name}' (${check.type})`,
        Activity.beginCustomizer,
        { plan: bakePlan, spec: run.spec, phase: 'validate', index, limitMs: stepLimitMs(check, buildLeftMs) },
        customizerWatchdogMs(check, buildLeftMs),
      );
    } catch (error) {
      if (!(error instanceof StepFailed)) throw error;
      if (errorHandling.onValidationError === 'abort') {
        run.keepStagingReason = 'errorHandling.onValidationError is abort: the staging group is kept for inspection';
      }
      if (!validation.continueDistributeOnFailure) throw error;
      // AIB semantics: distribute anyway, but the image is never promoted or rolled out, and the run fails.
      run.validationFailure = error;
      run.skip(['promote', 'approve', 'rollout'], 'validation failed (continueDistributeOnFailure: distributed, not promoted)');
      run.settle('Failed', error.failure.message);
      return;
    }
  }
}

// ---- 6 generalize ---------------------------------------------------------------------------------------------

/** Deprovision runs detached (it removes the agent that would report it), so the wait is for the VM to stop. */
export function* generalize(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  const vm = bakePlan.staging.vmName;
  const deprovision = bakePlan.osType === 'Windows' ? 'sysprep' : 'waagent deprovision';
  yield* run.operation(`${deprovision} of ${vm} (detached), until the VM is stopped`, Activity.beginDeprovision, { plan: bakePlan }, WATCHDOG_MS.deprovision[bakePlan.osType]);
  yield* run.operation(`deallocation of ${vm}`, Activity.beginDeallocate, { plan: bakePlan }, WATCHDOG_MS.deallocate);
  yield* run.operation(`generalization of ${vm}`, Activity.generalizeVm, { plan: bakePlan }, WATCHDOG_MS.generalize);
}

// ---- 7 capture ------------------------------------------------------------------------------------------------

export function* capture(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  const artifacts: Record<string, string> = {};
  for (const [index, distribution] of bakePlan.distributions.entries()) {
    const artifact = artifactOf(distribution);
    yield* run.operation(`capture of ${artifact}`, Activity.beginCapture, { plan: bakePlan, spec: run.spec, distribution: index }, WATCHDOG_MS.capture);
    artifacts[distribution.runOutputName] = artifact;
  }
  const image = sharedImages(bakePlan)[0];
  run.record = {
    ...run.record,
    outputs: { ...run.record.outputs, artifacts, ...(image ? { imageVersionId: image.imageVersionId, version: image.version } : {}) },
  };
  if (!run.keepStagingReason) {
    // The VM has served its purpose: its group goes now, beside replication (sent with the next step's first call,
    // so its round trip is nobody's wait); cleanup waits for it to be gone.
    yield* run.flow.callAlongside(Activity.beginDeleteStagingGroup, { plan: bakePlan }, { ordered: false });
    // Bakes waiting for vCPU quota are woken once the group is gone, by a child beside replication (freeBuildVmChild).
    yield* askWhetherQuotaWaiters(run);
  }
}

function artifactOf(distribution: PlannedDistribution): string {
  switch (distribution.type) {
    case 'SharedImage':
      return distribution.imageVersionId;
    case 'ManagedImage':
      return distribution.imageId;
    case 'VHD':
      return distribution.uri;
  }
}

// ---- 8 replicate ----------------------------------------------------------------------------------------------

/** Every target region in parallel, one sub-orchestration each, with its progress in the record. */
export function* replicate(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  const cap = earliest(run.flow.after(WATCHDOG_MS.replicateRegion, `its watchdog (${describeMs(WATCHDOG_MS.replicateRegion)})`), run.buildDeadline);
  const children: { input: ReplicateRegionInput; instanceId: string }[] = [];
  for (const image of sharedImages(bakePlan)) {
    const begun = yield* run.flow.call<OperationStatus>(Activity.beginReplication, { imageVersionId: image.imageVersionId, regions: image.regions });
    if (begun.state === 'Failed') throw new StepFailed('replicate', { ...begun.error, message: `replication of ${image.imageVersionId}: ${begun.error.message}` });
    for (const region of image.regions) {
      children.push({
        instanceId: childInstanceId(run.input.runId, 'replicate', children.length),
        input: {
          runId: run.input.runId,
          imageVersionId: image.imageVersionId,
          region: region.name,
          poll: bakePlan.poll,
          deadline: cap.at.toISOString(),
          deadlineReason: cap.reason,
        },
      });
    }
  }
  const freeing = freeBuildVmChild(run);
  const outputs = yield* run.flow.parallel<ReplicateRegionOutput | boolean>(Orchestration.replicateRegion, freeing ? [...children, freeing] : children);
  const results = outputs.slice(0, children.length) as ReplicateRegionOutput[];
  run.buildVmAnnounced = outputs[children.length] === true;
  yield* saveChildProgress(run, results.map((r) => r.progress));
  const regions = Object.fromEntries(results.map((r) => [r.region, r.state]));
  run.record = { ...run.record, outputs: { ...run.record.outputs, regions } };
  const failed = results.filter((r) => r.state !== 'Completed');
  if (failed.length > 0) {
    throw new StepFailed('replicate', {
      code: failed.some((r) => r.state === 'TimedOut') ? 'Timeout' : 'ReplicationFailed',
      message: failed.map((r) => `${r.region}: ${r.message ?? r.state}`).join('; '),
      retryable: false,
    });
  }
}

/** Saves the last progress sub-orchestrations handed back, with the bake's next call: they end without a save round trip. */
function* saveChildProgress(run: BakeRun, saves: (Omit<SaveRunProgressInput, 'runId'> | undefined)[]): Flowing<void> {
  for (const save of saves) {
    if (!save) continue;
    const input: SaveRunProgressInput = { runId: run.input.runId, ...save };
    // Each key's earlier saves landed before its child ended, and keys do not share blobs: no order to keep.
    yield* run.flow.callAlongside(Activity.saveRunProgress, input, { ordered: false });
  }
}

// ---- 9 promote ------------------------------------------------------------------------------------------------

/** Only now may the version become `latest`: it is replicated everywhere and validated. */
export function* promote(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  for (const image of sharedImages(bakePlan)) {
    yield* run.operation(
      `promotion of ${image.imageVersionId}`,
      Activity.beginPromote,
      { imageVersionId: image.imageVersionId, excludeFromLatest: image.excludeFromLatest },
      WATCHDOG_MS.promote,
    );
  }
}

// ---- 10 approve -----------------------------------------------------------------------------------------------

export function* approve(run: BakeRun): Flowing<void> {
  const { timeout } = run.spec.approval;
  const until = new Date(run.flow.now().getTime() + timeout.ms);
  yield* run.waiting(`approval (POST /api/builds/${run.input.runId}/approve) until ${until.toISOString()}`);
  const approval = yield* run.flow.event<ApproveEvent>(BakeEvent.approve, until);
  if (!approval) {
    throw new StepFailed('approve', { code: 'ApprovalTimedOut', message: `no approval within ${timeout.iso}`, retryable: false });
  }
  run.settle('Succeeded', approval.by ? `approved by ${approval.by}` : 'approved');
}

// ---- 11 rollout -----------------------------------------------------------------------------------------------

/** Each scale set in parallel, one sub-orchestration each (model → batches → health → rollback). */
export function* rollout(run: BakeRun): Flowing<void> {
  const bakePlan = run.planned();
  const image = sharedImages(bakePlan)[0];
  if (!image) {
    throw new StepFailed('rollout', { code: 'NoGalleryImage', message: 'rollout needs a SharedImage distribution to roll out', retryable: false });
  }
  const children = run.spec.rollout.map((target, index) => ({
    instanceId: childInstanceId(run.input.runId, 'rollout', index),
    input: { runId: run.input.runId, index, target, imageVersionId: image.imageVersionId, osType: bakePlan.osType, poll: bakePlan.poll } satisfies RolloutInput,
  }));
  const recordOutcomes = (results: RolloutOutput[]) => {
    run.record = {
      ...run.record,
      outputs: {
        ...run.record.outputs,
        scaleSets: results.map((r) => ({
          id: r.scaleSetId, status: r.status === 'Canceled' ? 'Failed' : r.status, updated: r.updated, total: r.total,
          ...(r.path ? { path: r.path } : {}), ...(r.protected ? { protected: r.protected } : {}),
        })),
      },
    };
  };
  let results: RolloutOutput[];
  try {
    results = yield* run.flow.parallel<RolloutOutput>(Orchestration.rolloutScaleSet, children);
  } catch (error) {
    // A cancel mid-rollout still records where each scale set was left.
    if (error instanceof BakeCanceled && error.childOutputs) {
      recordOutcomes(error.childOutputs as RolloutOutput[]);
      yield* saveChildProgress(run, (error.childOutputs as RolloutOutput[]).map((r) => r.progress));
    }
    throw error;
  }
  recordOutcomes(results);
  yield* saveChildProgress(run, results.map((r) => r.progress));
  const failed = results.filter((r) => r.status !== 'Succeeded');
  if (failed.length > 0) {
    throw new StepFailed('rollout', {
      code: failed.some((r) => r.status === 'RolledBack') ? 'RolledBack' : 'RolloutFailed',
      message: failed.map((r) => `${r.scaleSetId}: ${r.message ?? r.status}`).join('; '),
      retryable: false,
    });
  }
}

// ---- finally: cleanup -----------------------------------------------------------------------------------------

/** Deletes the staging group and waits until it is gone — unless errorHandling said abort. Never interrupted. */
export function* cleanup(run: BakeRun): Flowing<void> {
  const bakePlan = run.plan;
  const staging = run.record.staging;
  if (!bakePlan || !staging) {
    run.settle('Skipped', 'nothing was staged');
    return;
  }
  if (run.keepStagingReason) {
    run.record = { ...run.record, staging: { ...staging, state: 'Kept', reason: run.keepStagingReason } };
    run.settle('Skipped', run.keepStagingReason);
    return;
  }
  try {
    yield* run.operation(`deletion of staging group ${bakePlan.staging.resourceGroupName}`, Activity.beginDeleteStagingGroup, { plan: bakePlan }, WATCHDOG_MS.deleteStagingGroup, false);
    run.record = { ...run.record, staging: { ...staging, state: 'Deleted' } };
  } catch (error) {
    // The image may be fine; the leftover group is the janitor's (it is tagged to expire).
    const why = error instanceof StepFailed ? error.failure.message : unexpectedFailure(error).message;
    const reason = `${why}; the janitor deletes it after ${bakePlan.staging.expiresAt}`;
    run.record = { ...run.record, staging: { ...staging, state: 'Present', reason } };
    run.settle('Failed', reason);
  }
}
