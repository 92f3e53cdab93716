/**
 * Activities that raise events on other orchestrations (an orchestration cannot raise events itself):
 * forwardCancel passes a bake's `cancel` on to its sub-orchestrations, which listen on their own instance ids;
 * wakeLockWaiter tells the next bake queued for an image lock that the lock was released, so it asks again at once
 * instead of on its next timer. Instances that already ended are skipped.
 */

import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { BakeEvent } from '../pipeline/contracts.ts';
import type { ForwardCancelInput, WakeLockWaiterInput } from './contracts.ts';

async function raiseOnRunning(instanceIds: string[], event: string, context: InvocationContext): Promise<void> {
  const client = df.getClient(context);
  for (const instanceId of instanceIds) {
    const status = await client.getStatus(instanceId).catch(() => undefined);
    const running = status?.runtimeStatus === df.OrchestrationRuntimeStatus.Running || status?.runtimeStatus === df.OrchestrationRuntimeStatus.Pending;
    if (running) await client.raiseEvent(instanceId, event, null);
  }
}

export function forwardCancel(input: ForwardCancelInput, context: InvocationContext): Promise<void> {
  return raiseOnRunning(input.instanceIds, BakeEvent.cancel, context);
}

export function wakeLockWaiter(input: WakeLockWaiterInput, context: InvocationContext): Promise<void> {
  return raiseOnRunning([input.runId], BakeEvent.lockReleased, context);
}
