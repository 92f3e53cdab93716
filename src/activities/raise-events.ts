/**
 * Activities that raise events on other orchestrations (an orchestration cannot raise events itself):
 * forwardCancel passes a bake's `cancel` on to its sub-orchestrations, which listen on their own instance ids;
 * wakeLockWaiter tells the next bake queued for an image lock that the lock was released, so it asks again at once
 * instead of on its next timer; wakeQuotaWaiters tells bakes waiting for vCPU quota that a Kiln bake freed its build
 * VM. Instances that already ended are skipped.
 */

import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { instanceState } from '../api/instances.ts';
import { BakeEvent } from '../pipeline/contracts.ts';
import type { ForwardCancelInput, WakeLockWaiterInput, WakeQuotaWaitersInput } from './contracts.ts';

/**
 * Raises `event` on each instance still running; returns those that are not (ended or missing). An instance whose
 * status could not be read is neither: it is not woken and keeps its place (a quota waiter still has its timer).
 */
async function raiseOnRunning(instanceIds: string[], event: string, context: InvocationContext): Promise<string[]> {
  const client = df.getClient(context);
  const notRunning: string[] = [];
  for (const instanceId of instanceIds) {
    const status = await instanceState(client, instanceId).then((s) => s ?? 'Missing', () => 'Unreadable');
    if (status === 'Unreadable') continue;
    if (status === df.OrchestrationRuntimeStatus.Running || status === df.OrchestrationRuntimeStatus.Pending) await client.raiseEvent(instanceId, event, null);
    else notRunning.push(instanceId);
  }
  return notRunning;
}

export async function forwardCancel(input: ForwardCancelInput, context: InvocationContext): Promise<void> {
  await raiseOnRunning(input.instanceIds, BakeEvent.cancel, context);
}

export async function wakeLockWaiter(input: WakeLockWaiterInput, context: InvocationContext): Promise<void> {
  await raiseOnRunning([input.runId], BakeEvent.lockReleased, context);
}

/** The woken bakes re-check the quota by trying their create; those not running are answered, to be replaced. */
export function wakeQuotaWaiters(input: WakeQuotaWaitersInput, context: InvocationContext): Promise<string[]> {
  return raiseOnRunning(input.runIds, BakeEvent.quotaFreed, context);
}
