/**
 * Stage's build VM create waits out a used-up vCPU quota (other bakes' VMs hold it): in line on the region's quota
 * queue (src/pipeline/quota-queue.ts), woken when a Kiln bake frees its build VM, and on durable timers for quota
 * freed by anyone else; every wake tries the create again. A bake whose build VM is gone tells the queue: while it
 * replicates when someone waits (orchestration freeBuildVm), else at its end.
 */

import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { Activity, type ActivityName, type BakePlan, type QuotaRefusal } from '../activities/contracts.ts';
import type { BakeRun } from './bake-run.ts';
import { BakeEvent, childInstanceId, Entity, Orchestration } from './contracts.ts';
import { BakeCanceled, Flow, StepFailed, type Flowing } from './flow.ts';
import { updateStep } from './journal.ts';
import type { PollBounds } from './polling.ts';
import {
  quotaKey,
  type QuotaFreedRequest,
  type QuotaFreedResult,
  type QuotaLeaveRequest,
  type QuotaWaitingRequest,
  type QuotaWaitingResult,
  type QuotaWaitRequest,
  type QuotaWaitResult,
} from './quota-queue.ts';
import { describeMs, WATCHDOG_MS } from './watchdogs.ts';

export const QUOTA_RETRY_FIRST_MS = 15_000;
export const QUOTA_RETRY_MAX_MS = 120_000;
/** KILN_QUOTA_WAIT_MINUTES's default, for plans made before the setting existed. */
export const DEFAULT_QUOTA_WAIT_MS = 60 * 60_000;

/** The wait before try `tries + 1`: 15 s doubling to 2 min, no jitter (the orchestration replays it). */
export function quotaRetryDelay(tries: number): number {
  return Math.min(QUOTA_RETRY_FIRST_MS * 2 ** tries, QUOTA_RETRY_MAX_MS);
}

/** A waiter that has not been back for this long (its longest timer twice, and a minute) has given up. */
const WAITER_STALE_MS = 2 * QUOTA_RETRY_MAX_MS + 60_000;

/**
 * "waiting for vCPU quota in eastus: standardDSv3Family Cores 50/50 used, 2 required; 3 bakes ahead; woken when a
 * Kiln bake frees its build VM, next try in 30 s at the latest".
 */
export function describeQuotaWait(quota: QuotaRefusal, nextTryMs: number, ahead: number): string {
  const usage = quota.used !== undefined && quota.limit !== undefined ? ` ${quota.used}/${quota.limit} used` : '';
  const required = quota.required !== undefined ? `, ${quota.required} required` : '';
  const where = quota.location ? ` in ${quota.location}` : '';
  const line = ahead === 0 ? 'first in line' : `${ahead} bake${ahead === 1 ? '' : 's'} ahead`;
  return `waiting for vCPU quota${where}: ${quota.what ?? 'quota'}${usage}${required}; ${line}; woken when a Kiln bake frees its build VM, next try in ${describeMs(nextTryMs)} at the latest`;
}

/**
 * run.operation, but a refusal for quota is a wait: the bake takes (or keeps) its place in the region's quota line,
 * the step says so (record and live status), and it waits for a wake from a Kiln bake that freed its build VM or for
 * its durable timer (either cut short by a cancel); then the create is begun again (it is idempotent), until the
 * plan's quota wait or the build deadline is spent; then the bake fails with the quota error. It leaves the line
 * however it ends.
 */
export function* operationWaitingForQuota(run: BakeRun, label: string, activity: ActivityName, input: unknown, watchdogMs: number): Flowing<void> {
  const plan = run.planned();
  const key = quotaKey(plan.staging.vmId, plan.location);
  const startedAt = run.flow.now().getTime();
  const giveUpAt = Math.min(startedAt + (plan.quotaWaitMs ?? DEFAULT_QUOTA_WAIT_MS), run.buildDeadline.at.getTime());
  let queued = false;
  try {
    for (let waits = 0; ; waits++) {
      try {
        yield* run.operation(label, activity, input, watchdogMs);
      } catch (error) {
        if (!(error instanceof StepFailed) || !error.failure.quota) throw error;
        const now = run.flow.now().getTime();
        if (now >= giveUpAt) throw error;
        const at = Math.min(now + quotaRetryDelay(waits), giveUpAt);
        const { quota } = error.failure;
        const request: QuotaWaitRequest = {
          runId: run.input.runId,
          quota: quota.what ?? 'quota',
          vmSize: run.spec.vmProfile.vmSize,
          ...(quota.required !== undefined ? { cores: quota.required } : {}),
          now: new Date(now).toISOString(),
          staleAfterMs: WAITER_STALE_MS,
        };
        const { ahead } = yield* run.flow.entity<QuotaWaitResult>(Entity.buildQuota, key, 'wait', request);
        queued = true;
        const message = describeQuotaWait(quota, at - now, ahead);
        run.record = updateStep(run.record, run.currentStep(), { message });
        yield* run.waiting(message);
        yield* run.flow.event(BakeEvent.quotaFreed, new Date(at));
        continue;
      }
      run.buildVmMade = true;
      if (waits > 0) run.settle('Succeeded', `waited ${describeMs(run.flow.now().getTime() - startedAt)} for vCPU quota (${waits} refusal${waits === 1 ? '' : 's'})`);
      return;
    }
  } finally {
    // A signal: no round trip, and it goes out whether the create went through, failed or was canceled.
    if (queued) run.flow.context.df.signalEntity(new df.EntityId(Entity.buildQuota, key), 'leave', { runId: run.input.runId } satisfies QuotaLeaveRequest);
  }
}

/** Where and as what this bake's build VM is announced once gone, or undefined when it made none. */
function buildVmLine(run: BakeRun): { key: string; request: Omit<QuotaFreedRequest, 'now'> } | undefined {
  const plan: BakePlan | undefined = run.plan;
  if (!plan || !run.buildVmMade) return undefined;
  return { key: quotaKey(plan.staging.vmId, plan.location), request: { runId: run.input.runId, vmSize: run.spec.vmProfile.vmSize } };
}

/** The announcement a bake makes at its end once its build VM is gone (cleanup saw the group deleted), unless made already. */
export function freedBuildVm(run: BakeRun): { key: string; request: Omit<QuotaFreedRequest, 'now'> } | undefined {
  return run.record.staging?.state === 'Deleted' && !run.buildVmAnnounced ? buildVmLine(run) : undefined;
}

/** At capture's end, when the staging group's delete goes: asks the line, beside the delete, whether anyone waits. */
export function* askWhetherQuotaWaiters(run: BakeRun): Flowing<void> {
  const line = buildVmLine(run);
  if (!line) return;
  run.quotaWaiters = run.flow.context.df.callEntity(new df.EntityId(Entity.buildQuota, line.key), 'waiting', { now: run.flow.now().toISOString() } satisfies QuotaWaitingRequest);
  yield* run.flow.startAlongside(run.quotaWaiters, { ordered: false });
}

/** Input of orchestration `freeBuildVm`. */
export interface FreeBuildVmInput {
  plan: BakePlan;
  key: string;
  request: Omit<QuotaFreedRequest, 'now'>;
  poll: PollBounds;
}

/**
 * Replicate's extra child when bakes wait for quota: watches the staging group's deletion (begun at capture), so the
 * waiters are woken when the build VM is gone, not at the bake's end (after replicate, promote, rollout).
 */
export function freeBuildVmChild(run: BakeRun): { name: string; instanceId: string; input: FreeBuildVmInput } | undefined {
  const answer = run.quotaWaiters;
  const line = buildVmLine(run);
  if (!answer?.isCompleted || !line || run.keepStagingReason || (answer.result as QuotaWaitingResult).waiting === 0) return undefined;
  const plan = run.planned();
  return {
    name: Orchestration.freeBuildVm,
    instanceId: childInstanceId(run.input.runId, 'free-build-vm', 0),
    input: { plan, key: line.key, request: line.request, poll: plan.poll },
  };
}

/**
 * Orchestration `freeBuildVm`: the staging group gone, the line is told and its waiters woken; cleanup still checks the
 * group. True when it told the line (the bake's end then need not).
 */
export function* freeBuildVm(context: OrchestrationContext): Flowing<boolean> {
  const input = context.df.getInput() as FreeBuildVmInput;
  const flow = new Flow(context, input.poll);
  try {
    const label = `deletion of staging group ${input.plan.staging.resourceGroupName}`;
    yield* flow.operation('replicate', label, Activity.beginDeleteStagingGroup, { plan: input.plan }, WATCHDOG_MS.deleteStagingGroup);
  } catch (error) {
    // Cleanup deletes the group and reports; the bake's end announces it then, and the waiters' timers run meanwhile.
    if (error instanceof StepFailed || error instanceof BakeCanceled) return false;
    throw error;
  }
  flow.stopListeningForCancel();
  yield* announceFreedBuildVm(flow, input.key, input.request);
  return true;
}

/** The quota line's `freed` operation input: the build VM gone, now, and the named waiters found no longer running. */
export function freedRequest(flow: Flow, request: Omit<QuotaFreedRequest, 'now'>, gone?: string[]): QuotaFreedRequest {
  return { ...request, now: flow.now().toISOString(), ...(gone ? { gone } : {}) };
}

/**
 * Tells the quota line that this bake's build VM is gone and wakes the waiters it names; a named waiter whose bake is
 * no longer running is reported back and replaced (a few rounds at most: the waiters' timers cover the rest).
 */
export function* announceFreedBuildVm(flow: Flow, key: string, request: Omit<QuotaFreedRequest, 'now'>, first?: QuotaFreedResult): Flowing<void> {
  let answer = first;
  let gone: string[] = [];
  for (let round = 0; round < 3; round++) {
    answer ??= yield* flow.entity<QuotaFreedResult>(Entity.buildQuota, key, 'freed', freedRequest(flow, request, gone), { cancellable: false });
    if (answer.wake.length === 0) return;
    gone = yield* flow.call<string[]>(Activity.wakeQuotaWaiters, { runIds: answer.wake }, { cancellable: false });
    if (gone.length === 0) return;
    answer = undefined;
  }
}
