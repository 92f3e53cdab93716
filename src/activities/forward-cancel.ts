/**
 * Activity forwardCancel: raises `cancel` on a canceled bake's sub-orchestrations, which listen on their own
 * instance ids (an orchestration cannot raise events itself). Instances that already ended are skipped.
 */

import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { ForwardCancelInput } from './contracts.ts';

export async function forwardCancel(input: ForwardCancelInput, context: InvocationContext): Promise<void> {
  const client = df.getClient(context);
  for (const instanceId of input.instanceIds) {
    const status = await client.getStatus(instanceId).catch(() => undefined);
    const running = status?.runtimeStatus === df.OrchestrationRuntimeStatus.Running || status?.runtimeStatus === df.OrchestrationRuntimeStatus.Pending;
    if (running) await client.raiseEvent(instanceId, 'cancel', null);
  }
}
