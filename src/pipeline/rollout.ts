/**
 * Sub-orchestration `rolloutScaleSet`: moves one scale set to the new image version along the path its upgrade
 * policy asks for — Kiln's batches (Manual, or `rollout[].mode: batches`), Azure's rolling upgrade (Rolling), the
 * platform's all-at-once upgrade (Automatic), or the automatic OS image upgrade that promotion started — with the
 * same health gate, watchdog and progress shape on each, and rolls back to the image the scale set ran before.
 */

import type { OrchestrationContext } from 'durable-functions';
import {
  Activity,
  type InstanceHealth,
  type MemberState,
  type OperationStatus,
  type ReadInstancesOutput,
  type ReadRollingUpgradeOutput,
  type ReadScaleSetOutput,
  type RollingUpgradeState,
  type ScaleSetImage,
  type ScaleSetProgress,
  type UpgradeMode,
} from '../activities/contracts.ts';
import type { OsType } from '../azure/virtualMachines.ts';
import type { RolloutPath } from '../runs/progress.ts';
import type { RolloutTarget } from '../template/spec.ts';
import { breachesHealthThreshold } from './batches.ts';
import { BakeCanceled, Flow, StepFailed, type Flowing } from './flow.ts';
import { nextPollDelay, type PollBounds } from './polling.ts';
import { chooseRolloutPath, PATH_LOG } from './rollout-path.ts';
import { platformUpgradeWatchdogMs, WATCHDOG_MS } from './watchdogs.ts';

export interface RolloutInput {
  runId: string;
  index: number;
  target: RolloutTarget;
  imageVersionId: string;
  osType: OsType;
  poll: PollBounds;
}

export interface RolloutOutput {
  scaleSetId: string;
  status: 'Succeeded' | 'RolledBack' | 'Failed' | 'Canceled';
  updated: number;
  total: number;
  /** Which path the rollout followed (undefined when the scale set could not be read). */
  path?: RolloutPath;
  /** Members protected from scale set actions: reported, left on the image they ran. */
  protected?: string[];
  message?: string;
  /** The scale set's last progress, saved by the bake with its next call (the rollout ends without a save of its own). */
  progress?: { key: string; progress: ScaleSetProgress };
}

/** Health states that mean "not decided yet": the gate keeps waiting on them until its watchdog. */
const UNDECIDED: InstanceHealth[] = ['Initializing', 'Unknown'];

const imageLabel = (image: ScaleSetImage) => ('id' in image ? image.id : `${image.publisher}:${image.offer}:${image.sku}:${image.version}`);
const sameImage = (a: ScaleSetImage, b: ScaleSetImage) => imageLabel(a).toLowerCase() === imageLabel(b).toLowerCase();

export function* rolloutScaleSet(context: OrchestrationContext): Flowing<RolloutOutput> {
  const input = context.df.getInput() as RolloutInput;
  const flow = new Flow(context, input.poll);
  try {
    return yield* rollOut(input, flow);
  } finally {
    // Progress saved alongside the last call lands before the rollout's answer.
    yield* flow.flush();
  }
}

function* rollOut(input: RolloutInput, flow: Flow): Flowing<RolloutOutput> {
  const { target, imageVersionId } = input;
  const { scaleSetId, scaleSetName } = target;
  const newImage: ScaleSetImage = { id: imageVersionId };

  const read = yield* flow.call<ReadScaleSetOutput>(Activity.readScaleSet, { scaleSetId });
  if (!read.ok) return { scaleSetId, status: 'Failed', updated: 0, total: 0, message: read.error.message };
  const model = read.value;
  const path = chooseRolloutPath(model, target, imageVersionId);
  // A definition reference rolls back to the version its instances ran, pinned (the definition now means the new one).
  const pinned = model.exactVersion !== undefined && 'id' in model.image;
  const previous: ScaleSetImage | undefined = pinned
    ? { id: `${(model.image as { id: string }).id}/versions/${model.exactVersion}` }
    : path === 'automaticOSUpgrade' ? undefined : model.image;
  /** Kiln's batches on a scale set whose policy would upgrade by itself: Manual meanwhile, restored after. */
  const switchPolicy: UpgradeMode | undefined = path === 'batches' && model.upgradeMode !== 'Manual' ? model.upgradeMode : undefined;
  const upgradeWatchdog = WATCHDOG_MS.instanceUpgrade[input.osType];
  /** Said when a rollout ends part-way with the policy Kiln switched to Manual (restoring it would move instances). */
  const policyNote = switchPolicy ? `; upgradePolicy left Manual (it was ${switchPolicy})` : '';

  let members: MemberState[] = model.instances;
  let healthy = 0;
  let batch = 0;
  let batches = 0;
  let protectedIds: string[] = [];

  const progressNow = (status: ScaleSetProgress['status'], message?: string): ScaleSetProgress =>
    ({ kind: 'scaleSet', scaleSetId, status, updated: healthy, total: members.length, batch, batches, path, ...(message ? { message } : {}) });
  const report = function* (status: ScaleSetProgress['status'], message?: string): Flowing<void> {
    const progress = progressNow(status, message);
    // Sent with the next call (or before the next wait or the answer): no round trip of its own; saves land in order.
    yield* flow.callAlongside(Activity.saveRunProgress, { runId: input.runId, key: `scaleset-${input.index}`, progress });
  };
  /** The answer, with the last progress for the bake to save with its own next call (no save round trip here). */
  const finish = (status: RolloutOutput['status'], shown: ScaleSetProgress['status'], message?: string): RolloutOutput => ({
    scaleSetId, status, updated: healthy, total: members.length, path,
    ...(protectedIds.length > 0 ? { protected: protectedIds } : {}),
    ...(message ? { message } : {}),
    progress: { key: `scaleset-${input.index}`, progress: progressNow(shown, message) },
  });
  const readMembers = function* (image: ScaleSetImage): Flowing<MemberState[]> {
    const got = yield* flow.call<ReadInstancesOutput>(Activity.readInstances, { scaleSetId, orchestrationMode: model.orchestrationMode, image });
    if (!got.ok) throw new StepFailed('rollout', got.error);
    members = got.value;
    protectedIds = members.filter((m) => m.protected && !m.onImage).map((m) => m.instanceId);
    return members;
  };
  const readRolling = function* (): Flowing<RollingUpgradeState | null> {
    const got = yield* flow.call<ReadRollingUpgradeOutput>(Activity.readRollingUpgrade, { scaleSetId });
    if (!got.ok) throw new StepFailed('rollout', got.error);
    return got.value;
  };
  const setModel = function* (image: ScaleSetImage, upgradeMode: UpgradeMode | undefined, what: string): Flowing<void> {
    yield* flow.operation('rollout', `${what} of ${scaleSetName}'s model to ${imageLabel(image)}`, Activity.beginScaleSetModel, { scaleSetId, image, ...(upgradeMode ? { upgradeMode } : {}) }, WATCHDOG_MS.scaleSetModel);
  };
  const sleepPoll = function* (startedAt: number, deadline: number): Flowing<void> {
    const now = flow.now().getTime();
    yield* flow.sleepUntil(new Date(Math.min(now + nextPollDelay(now - startedAt, flow.poll), deadline)));
  };

  /**
   * Waits until every member (but protected ones) runs `image` and reports its health, as Azure moves them (a
   * rolling upgrade when `rolling`, which Kiln starts itself when none began); fails on a faulted or cancelled
   * rolling upgrade and at the watchdog.
   */
  const followPlatform = function* (image: ScaleSetImage, rolling: boolean, baseline: RollingUpgradeState | null): Flowing<{ ok: true } | { ok: false; message: string }> {
    const startedAt = flow.now().getTime();
    const deadline = startedAt + platformUpgradeWatchdogMs(model.rollingBatchPercent, input.osType);
    let started = false;
    let lastShown = '';
    for (;;) {
      const now = yield* readMembers(image);
      const stale = now.filter((m) => !m.onImage && !m.protected);
      const onImage = now.filter((m) => m.onImage);
      healthy = onImage.filter((m) => m.health === 'Healthy').length;
      if (stale.length === 0 && !onImage.some((m) => UNDECIDED.includes(m.health))) return { ok: true };
      if (rolling) {
        const latest = yield* readRolling();
        const fresh = latest !== null && (baseline === null || baseline.code === 'RollingForward' || latest.startTime !== baseline.startTime);
        if (fresh && latest.code !== 'RollingForward' && latest.code !== 'Completed') {
          return { ok: false, message: `Azure's rolling upgrade ended ${latest.code}${latest.error ? `: ${latest.error.code}: ${latest.error.message}` : ''}` };
        }
        const size = Math.max(1, Math.floor((now.length * model.rollingBatchPercent) / 100));
        if (fresh) {
          const planned = latest.successful + latest.failed + latest.inProgress + latest.pending;
          batches = Math.max(1, Math.ceil(planned / size));
          batch = Math.min(batches, Math.ceil((latest.successful + latest.failed + latest.inProgress) / size));
        }
        if (stale.length > 0 && !started && !(fresh && latest.code === 'RollingForward')) {
          // Nothing of Azure's is moving these instances: Kiln starts the rolling upgrade (Azure still runs it).
          const begun = yield* flow.call<OperationStatus>(Activity.beginRollingUpgrade, { scaleSetId });
          if (begun.state === 'Failed') return { ok: false, message: `starting a rolling upgrade failed: ${begun.error.message}` };
          started = true;
        }
      }
      // Progress is saved when it changes: a long wait adds no history of its own.
      const shown = `${healthy}/${members.length} ${batch}/${batches}`;
      if (shown !== lastShown) yield* report('Updating');
      lastShown = shown;
      if (flow.now().getTime() >= deadline) {
        return { ok: false, message: `${stale.length} instance(s) (${stale.map((m) => m.instanceId).join(', ')}) not on ${imageLabel(image)} within the watchdog` };
      }
      yield* sleepPoll(startedAt, deadline);
    }
  };

  /** Back to the image the scale set ran: the model first, then the members, by the same path. */
  const rollBack = function* (why: string): Flowing<RolloutOutput> {
    flow.stopListeningForCancel();
    if (!target.rollbackOnFailure || !previous || sameImage(previous, newImage)) {
      const message = `${why}; ${!target.rollbackOnFailure ? 'rollbackOnFailure is false' : 'no earlier version to roll back to'}${policyNote}`;
      return finish('Failed', 'Failed', message);
    }
    try {
      if (path === 'rolling' || path === 'automaticOSUpgrade') {
        const latest = yield* readRolling();
        if (latest?.code === 'RollingForward') {
          yield* flow.operation('rollout', `cancel of ${scaleSetName}'s rolling upgrade`, Activity.beginCancelRollingUpgrade, { scaleSetId }, WATCHDOG_MS.scaleSetModel);
        }
      }
      const baseline = path === 'batches' || path === 'automatic' ? null : yield* readRolling();
      yield* setModel(previous, undefined, 'rollback');
      if (path === 'batches') {
        const moved = (yield* readMembers(previous)).filter((m) => !m.onImage && !m.protected).map((m) => m.instanceId);
        if (moved.length > 0) {
          yield* flow.operation('rollout', `rollback of ${scaleSetName} instances ${moved.join(', ')}`, Activity.beginInstanceUpgrade, { scaleSetId, instanceIds: moved, image: previous }, upgradeWatchdog);
        }
        // Only now, with every member back, may the policy that would move instances by itself return.
        if (switchPolicy) yield* setModel(previous, switchPolicy, `upgradePolicy ${switchPolicy} restored after the rollback`);
      } else {
        const back = yield* followPlatform(previous, model.upgradeMode === 'Rolling' || path === 'automaticOSUpgrade', baseline);
        if (!back.ok) throw new StepFailed('rollout', { code: 'RollbackFailed', message: back.message, retryable: false });
      }
    } catch (error) {
      if (!(error instanceof StepFailed)) throw error;
      const message = `${why}; the rollback failed too: ${error.failure.message}${policyNote}`;
      return finish('Failed', 'Failed', message);
    }
    healthy = 0;
    const pinNote = pinned ? ` (the model now pins that version: point it at the definition again when a good version is promoted)` : '';
    const message = `${why}; rolled back to ${imageLabel(previous)}${pinNote}`;
    return finish('RolledBack', 'RolledBack', message);
  };

  /** The health gate over every member on the new image (upgraded ones and any autoscale added since). */
  const gate = function* (where: string): Flowing<string | undefined> {
    const startedAt = flow.now().getTime();
    const deadline = startedAt + WATCHDOG_MS.healthGate;
    for (;;) {
      const onImage = (yield* readMembers(newImage)).filter((m) => m.onImage);
      const now = flow.now().getTime();
      if (!onImage.some((m) => UNDECIDED.includes(m.health)) || now >= deadline) {
        const unhealthy = onImage.filter((m) => m.health !== 'Healthy');
        healthy = onImage.length - unhealthy.length;
        if (!breachesHealthThreshold(onImage.length, unhealthy.length, target.maxUnhealthyPercent)) return undefined;
        const list = unhealthy.map((h) => `${h.instanceId} ${h.health}`).join(', ');
        return `${where}: ${unhealthy.length} of ${onImage.length} upgraded instances not healthy (${list}), above maxUnhealthyPercent ${target.maxUnhealthyPercent}`;
      }
      yield* sleepPoll(startedAt, deadline);
    }
  };

  /**
   * Kiln's batches: each is cut from the members as last read — by the health gate just before, or read again after
   * a pause between batches — so autoscale's changes are counted.
   */
  const runBatches = function* (): Flowing<string | undefined> {
    let read = yield* readMembers(newImage);
    for (;;) {
      const pending = read.filter((m) => !m.onImage && !m.protected).map((m) => m.instanceId);
      if (pending.length === 0) return undefined;
      const size = Math.max(1, Math.ceil((members.length * target.batchPercent) / 100));
      const instanceIds = pending.slice(0, size);
      batch += 1;
      batches = batch - 1 + Math.ceil(pending.length / size);
      const where = `${scaleSetName} batch ${batch}/${batches}`;
      yield* flow.operation('rollout', `upgrade of ${where} (instances ${instanceIds.join(', ')})`, Activity.beginInstanceUpgrade, { scaleSetId, instanceIds, image: newImage }, upgradeWatchdog);
      const breach = yield* gate(where);
      if (breach) return breach;
      read = members;
      // After the last batch the caller's own report follows at once: this one would be a save of its own.
      if (!read.some((m) => !m.onImage && !m.protected)) return undefined;
      yield* report('Updating');
      if (target.pauseBetweenBatches.ms > 0) {
        yield* flow.sleepUntil(new Date(flow.now().getTime() + target.pauseBetweenBatches.ms));
        read = yield* readMembers(newImage);
      }
    }
  };

  try {
    yield* report('Updating', `${scaleSetName} (${model.orchestrationMode}, upgradePolicy ${model.upgradeMode}): ${PATH_LOG[path]}`);
    let breach: string | undefined;
    if (path === 'batches') {
      yield* setModel(newImage, switchPolicy ? 'Manual' : undefined, 'model update');
      breach = yield* runBatches();
      if (!breach && switchPolicy) yield* setModel(newImage, switchPolicy, `upgradePolicy ${switchPolicy} restored after the update`);
    } else {
      const rolling = path === 'rolling' || path === 'automaticOSUpgrade';
      const baseline = rolling ? yield* readRolling() : null;
      if (path !== 'automaticOSUpgrade') yield* setModel(newImage, undefined, 'model update');
      const followed = yield* followPlatform(newImage, rolling, baseline);
      if (!followed.ok) return yield* rollBack(`${scaleSetName}: ${followed.message}`);
      breach = yield* gate(scaleSetName);
    }
    if (breach) return yield* rollBack(breach);
    const note = protectedIds.length > 0 ? `instances ${protectedIds.join(', ')} are protected from scale set actions and stay on the image they ran` : undefined;
    return finish('Succeeded', 'Succeeded', note);
  } catch (error) {
    if (error instanceof BakeCanceled) {
      flow.stopListeningForCancel();
      let cancelNote = '';
      if (path === 'rolling' || path === 'automaticOSUpgrade') {
        try {
          yield* flow.operation('rollout', `cancel of ${scaleSetName}'s rolling upgrade`, Activity.beginCancelRollingUpgrade, { scaleSetId }, WATCHDOG_MS.scaleSetModel);
          cancelNote = "; Azure's rolling upgrade was cancelled";
        } catch (cancelError) {
          if (!(cancelError instanceof StepFailed)) throw cancelError;
          cancelNote = `; cancelling Azure's rolling upgrade failed: ${cancelError.failure.message}`;
        }
      }
      const message = `canceled with ${members.filter((m) => m.onImage).length} of ${members.length} instances on the new image${cancelNote}${policyNote}`;
      return finish('Canceled', 'Failed', message);
    }
    if (error instanceof StepFailed) return yield* rollBack(error.failure.message);
    throw error;
  }
}
