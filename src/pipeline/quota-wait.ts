/** Stage's build VM create waits out a used-up vCPU quota (other bakes' VMs hold it) on durable timers, then tries again. */

import type { ActivityName, QuotaRefusal } from '../activities/contracts.ts';
import type { BakeRun } from './bake-run.ts';
import { StepFailed, type Flowing } from './flow.ts';
import { updateStep } from './journal.ts';
import { describeMs } from './watchdogs.ts';

export const QUOTA_RETRY_FIRST_MS = 15_000;
export const QUOTA_RETRY_MAX_MS = 120_000;
/** KILN_QUOTA_WAIT_MINUTES's default, for plans made before the setting existed. */
export const DEFAULT_QUOTA_WAIT_MS = 60 * 60_000;

/** The wait before try `tries + 1`: 15 s doubling to 2 min, no jitter (the orchestration replays it). */
export function quotaRetryDelay(tries: number): number {
  return Math.min(QUOTA_RETRY_FIRST_MS * 2 ** tries, QUOTA_RETRY_MAX_MS);
}

/** "waiting for vCPU quota in eastus: standardDSv3Family Cores 50/50 used, 2 required; next try in 30 s". */
export function describeQuotaWait(quota: QuotaRefusal, nextTryMs: number): string {
  const usage = quota.used !== undefined && quota.limit !== undefined ? ` ${quota.used}/${quota.limit} used` : '';
  const required = quota.required !== undefined ? `, ${quota.required} required` : '';
  const where = quota.location ? ` in ${quota.location}` : '';
  return `waiting for vCPU quota${where}: ${quota.what ?? 'quota'}${usage}${required}; next try in ${describeMs(nextTryMs)}`;
}

/**
 * run.operation, but a refusal for quota is a wait: the step says so (record and live status), a durable timer (cut
 * short by a cancel) runs out, and the create is begun again (it is idempotent), until the plan's quota wait or the
 * build deadline is spent; then the bake fails with the quota error.
 */
export function* operationWaitingForQuota(run: BakeRun, label: string, activity: ActivityName, input: unknown, watchdogMs: number): Flowing<void> {
  const startedAt = run.flow.now().getTime();
  const giveUpAt = Math.min(startedAt + (run.planned().quotaWaitMs ?? DEFAULT_QUOTA_WAIT_MS), run.buildDeadline.at.getTime());
  for (let waits = 0; ; waits++) {
    try {
      yield* run.operation(label, activity, input, watchdogMs);
    } catch (error) {
      if (!(error instanceof StepFailed) || !error.failure.quota) throw error;
      const now = run.flow.now().getTime();
      if (now >= giveUpAt) throw error;
      const at = Math.min(now + quotaRetryDelay(waits), giveUpAt);
      const message = describeQuotaWait(error.failure.quota, at - now);
      run.record = updateStep(run.record, run.currentStep(), { message });
      yield* run.waiting(message);
      yield* run.flow.sleepUntil(new Date(at));
      continue;
    }
    if (waits > 0) run.settle('Succeeded', `waited ${describeMs(run.flow.now().getTime() - startedAt)} for vCPU quota (${waits} refusal${waits === 1 ? '' : 's'})`);
    return;
  }
}
