/**
 * The janitor's durable housekeeping: runs whose bake instance ended without finishing its record (terminated
 * through the durable API, or lost) are cleaned up and closed; finished instances are purged after the retention.
 */

import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { AzureClients } from '../azure/clients.ts';
import { listResourceGroupsByTag, startResourceGroupDelete, TAG_MANAGED, TAG_RUN_ID } from '../azure/resourceGroups.ts';
import { imageLockKeys } from '../pipeline/bake-lock.ts';
import { childInstanceId, Orchestration, type ReleaseBakeLocksInput } from '../pipeline/contracts.ts';
import { FINAL_RUN_STATUSES, type RunRecord } from '../runs/record.ts';
import { instanceState } from './instances.ts';
import type { RunStore } from '../runs/store.ts';

/** A Pending record without an instance is a bake being started; after this long, one that never started. */
const START_GRACE_MS = 10 * 60_000;
const HOUR_MS = 3_600_000;

/** Instance states in which the bake can no longer finish its own record. */
const ENDED = new Set<string>([
  df.OrchestrationRuntimeStatus.Completed,
  df.OrchestrationRuntimeStatus.Failed,
  df.OrchestrationRuntimeStatus.Terminated,
]);

/**
 * Closes one abandoned run as its own cleanup would have: its running sub-orchestrations are terminated, its
 * Kiln-made staging groups deleted, its image locks released, then the record ends Failed with code Terminated
 * (last, so a janitor that dies midway tries again).
 */
async function closeAbandoned(record: RunRecord, state: string, deps: { client: DurableClient; runs: RunStore; azure: AzureClients }, now: Date): Promise<void> {
  // Sub-orchestrations outlive a terminated parent (as on Azure): stop the replications and rollouts it started.
  for (const kind of ['replicate', 'rollout'] as const) {
    for (let index = 0; ; index++) {
      const child = childInstanceId(record.id, kind, index);
      const childState = await instanceState(deps.client, child);
      if (childState === undefined) break;
      if (!ENDED.has(childState)) await deps.client.terminate(child, `its bake ${record.id} ended without finishing`);
    }
  }
  const groups = (await listResourceGroupsByTag(deps.azure, TAG_RUN_ID, record.id)).filter((g) => g.tags[TAG_MANAGED] === 'true');
  for (const group of groups) await startResourceGroupDelete(deps.azure, group.name);
  const releasing = await releaseLocksOf(deps.client, record);
  const running = record.steps.find((step) => step.status === 'Running');
  const endedAt = now.toISOString();
  await deps.runs.put({
    ...record,
    status: 'Failed',
    endedAt,
    steps: record.steps.map((step) => (step.status === 'Running' || step.status === 'Pending'
      ? { ...step, status: step.status === 'Running' ? 'Failed' : 'Skipped', endedAt } : step)),
    error: {
      step: running?.name ?? 'bake',
      code: 'Terminated',
      // Says what the janitor set going: the release and the deletes finish after this record is written.
      message: `the bake's orchestration ended (${state}) without finishing its run` +
        (releasing ? '; the janitor started releasing its image locks' : '') +
        (groups.length ? `; the janitor started deleting ${groups.map((g) => g.name).join(', ')}` : ''),
    },
    ...(record.staging && groups.length ? { staging: { ...record.staging, state: 'Present', reason: 'deletion started by the janitor' } } : {}),
  });
}

/**
 * Releases the run's image locks (or its places in their queues) through orchestration `releaseBakeLocks`, which
 * also wakes each next waiter; its instance id is derived from the run, so a janitor that retries starts it once.
 * True when a release is under way (started now or by an earlier sweep); false when the run held no image locks.
 */
async function releaseLocksOf(client: DurableClient, record: RunRecord): Promise<boolean> {
  const keys = record.spec ? imageLockKeys(record.spec) : [];
  if (keys.length === 0) return false;
  const instanceId = `${record.id}:release-locks`;
  if ((await instanceState(client, instanceId)) !== undefined) return true;
  await client.startNew(Orchestration.releaseBakeLocks, { instanceId, input: { runId: record.id, keys } satisfies ReleaseBakeLocksInput });
  return true;
}

/**
 * Closes every run whose instance ended (or never started) while its record still says it runs. One run that
 * cannot be read or closed now is left for the next sweep and does not stop the others.
 */
export async function closeAbandonedRuns(
  deps: { client: DurableClient; runs: RunStore; azure: AzureClients },
  now: Date,
): Promise<{ closed: string[]; failed: string[] }> {
  const closed: string[] = [];
  const failed: string[] = [];
  for (const id of await deps.runs.listUnfinished()) {
    try {
      // The instance first, then the record once: the bake writes its final record before its instance ends, so a
      // bake that ends between the two reads is seen ended in its record and is left alone.
      const state = await instanceState(deps.client, id);
      if (state !== undefined && !ENDED.has(state)) continue;
      const record = await deps.runs.get(id);
      if (!record || record.endedAt || FINAL_RUN_STATUSES.has(record.status)) continue;
      if (state === undefined && now.getTime() - Date.parse(record.createdAt) <= START_GRACE_MS) continue;
      await closeAbandoned(record, state ?? 'no instance', deps, now);
      closed.push(id);
    } catch (error) {
      failed.push(`${id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { closed, failed };
}

/**
 * Purges the history of finished instances created more than `retentionHours` ago (bakes, their sub-orchestrations
 * and webhook deliveries). A finished bake's record is final by then: the bake writes it before it ends, and
 * closeAbandonedRuns closes the others (it runs first, and also closes a run whose instance is already gone).
 */
export async function purgeFinishedInstances(client: DurableClient, now: Date, retentionHours: number): Promise<number> {
  const result = await client.purgeInstanceHistoryBy({
    createdTimeFrom: new Date(0),
    createdTimeTo: new Date(now.getTime() - retentionHours * HOUR_MS),
    runtimeStatus: [...ENDED].map((status) => status as df.OrchestrationRuntimeStatus),
  });
  return result.instancesDeleted;
}
