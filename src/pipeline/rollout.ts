/**
 * Sub-orchestration `rolloutScaleSet`: moves one scale set to the new image version — model, then batches by
 * percent, each followed by a health gate — and rolls back to the previous version when the unhealthy share of
 * upgraded instances passes the threshold (or an upgrade fails), when the target allows it.
 */

import type { OrchestrationContext } from 'durable-functions';
import {
  Activity,
  type InstanceHealth,
  type ReadInstanceHealthOutput,
  type ReadScaleSetOutput,
  type ScaleSetProgress,
} from '../activities/contracts.ts';
import type { OsType } from '../azure/virtualMachines.ts';
import type { RolloutTarget } from '../template/spec.ts';
import { breachesHealthThreshold, planBatches } from './batches.ts';
import { BakeCanceled, Flow, StepFailed, type Flowing } from './flow.ts';
import { nextPollDelay, type PollBounds } from './polling.ts';
import { WATCHDOG_MS } from './watchdogs.ts';

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
  message?: string;
}

/** Health states that mean "not decided yet": the gate keeps waiting on them until its watchdog. */
const UNDECIDED: InstanceHealth[] = ['Initializing', 'Unknown'];

export function* rolloutScaleSet(context: OrchestrationContext): Flowing<RolloutOutput> {
  const input = context.df.getInput() as RolloutInput;
  const { target, imageVersionId } = input;
  const { scaleSetId, scaleSetName } = target;
  const flow = new Flow(context, input.poll);

  const read = yield* flow.call<ReadScaleSetOutput>(Activity.readScaleSet, { scaleSetId });
  if (!read.ok) return { scaleSetId, status: 'Failed', updated: 0, total: 0, message: read.error.message };
  const previous = read.value.imageReferenceId;
  const instances = read.value.instanceIds;
  const batches = planBatches(instances, target.batchPercent);
  const total = instances.length;
  const upgraded: string[] = [];
  let healthy = 0;
  let batch = 0;

  const report = function* (status: ScaleSetProgress['status'], message?: string): Flowing<void> {
    const progress: ScaleSetProgress = {
      kind: 'scaleSet',
      scaleSetId,
      status,
      updated: healthy,
      total,
      batch,
      batches: batches.length,
      ...(message ? { message } : {}),
    };
    yield* flow.call(Activity.saveRunProgress, { runId: input.runId, key: `scaleset-${input.index}`, progress }, { cancellable: false });
  };

  /** Back to the previous version: model first, then every instance already moved. */
  const rollBack = function* (why: string): Flowing<RolloutOutput> {
    flow.stopListeningForCancel();
    if (!target.rollbackOnFailure || previous.toLowerCase() === imageVersionId.toLowerCase()) {
      const message = target.rollbackOnFailure ? `${why}; no earlier version to roll back to` : `${why}; rollbackOnFailure is false`;
      yield* report('Failed', message);
      return { scaleSetId, status: 'Failed', updated: healthy, total, message };
    }
    try {
      yield* flow.operation('rollout', `rollback of ${scaleSetName}'s model to ${previous}`, Activity.beginScaleSetModel, { scaleSetId, imageReferenceId: previous }, WATCHDOG_MS.scaleSetModel);
      if (upgraded.length > 0) {
        yield* flow.operation('rollout', `rollback of ${scaleSetName} instances ${upgraded.join(', ')}`, Activity.beginInstanceUpgrade, { scaleSetId, instanceIds: upgraded }, WATCHDOG_MS.instanceUpgrade[input.osType]);
      }
    } catch (error) {
      if (!(error instanceof StepFailed)) throw error;
      const message = `${why}; the rollback failed too: ${error.failure.message}`;
      yield* report('Failed', message);
      return { scaleSetId, status: 'Failed', updated: healthy, total, message };
    }
    healthy = 0;
    const message = `${why}; rolled back to ${previous}`;
    yield* report('RolledBack', message);
    return { scaleSetId, status: 'RolledBack', updated: 0, total, message };
  };

  try {
    yield* report('Updating');
    yield* flow.operation('rollout', `model update of ${scaleSetName} to ${imageVersionId}`, Activity.beginScaleSetModel, { scaleSetId, imageReferenceId: imageVersionId }, WATCHDOG_MS.scaleSetModel);
    for (const [i, instanceIds] of batches.entries()) {
      batch = i + 1;
      const where = `${scaleSetName} batch ${batch}/${batches.length}`;
      yield* flow.operation('rollout', `upgrade of ${where} (instances ${instanceIds.join(', ')})`, Activity.beginInstanceUpgrade, { scaleSetId, instanceIds }, WATCHDOG_MS.instanceUpgrade[input.osType]);
      upgraded.push(...instanceIds);
      const health = yield* healthGate(flow, scaleSetId, upgraded);
      const unhealthy = health.filter((h) => h.health !== 'Healthy');
      healthy = upgraded.length - unhealthy.length;
      if (breachesHealthThreshold(upgraded.length, unhealthy.length, target.maxUnhealthyPercent)) {
        const list = unhealthy.map((h) => `${h.instanceId} ${h.health}`).join(', ');
        return yield* rollBack(
          `${where}: ${unhealthy.length} of ${upgraded.length} upgraded instances not healthy (${list}), above maxUnhealthyPercent ${target.maxUnhealthyPercent}`,
        );
      }
      yield* report('Updating');
      if (batch < batches.length && target.pauseBetweenBatches.ms > 0) {
        yield* flow.sleepUntil(new Date(flow.now().getTime() + target.pauseBetweenBatches.ms));
      }
    }
    yield* report('Succeeded');
    return { scaleSetId, status: 'Succeeded', updated: healthy, total };
  } catch (error) {
    if (error instanceof BakeCanceled) {
      const message = `canceled after ${upgraded.length} of ${total} instances were upgraded`;
      yield* report('Failed', message);
      return { scaleSetId, status: 'Canceled', updated: healthy, total, message };
    }
    if (error instanceof StepFailed) return yield* rollBack(error.failure.message);
    throw error;
  }
}

/**
 * Waits until every upgraded instance reports Healthy or Unhealthy. Instances still undecided when the gate's
 * watchdog passes are reported as they are, and count as not healthy.
 */
function* healthGate(
  flow: Flow,
  scaleSetId: string,
  instanceIds: string[],
): Flowing<{ instanceId: string; health: InstanceHealth }[]> {
  const startedAt = flow.now().getTime();
  const deadline = startedAt + WATCHDOG_MS.healthGate;
  for (;;) {
    const read = yield* flow.call<ReadInstanceHealthOutput>(Activity.readInstanceHealth, { scaleSetId, instanceIds });
    if (!read.ok) throw new StepFailed('rollout', read.error);
    const now = flow.now().getTime();
    if (!read.value.some((h) => UNDECIDED.includes(h.health)) || now >= deadline) return read.value;
    yield* flow.sleepUntil(new Date(Math.min(now + nextPollDelay(now - startedAt, flow.poll), deadline)));
  }
}
