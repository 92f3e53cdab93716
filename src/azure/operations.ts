/**
 * Long-running Azure operations split across activities: one activity sends the request and keeps the SDK poller's
 * serialized state (URLs only, no secrets); a later activity restores it and polls once. Nobody waits in-process.
 */

import { restorePoller as restoreComputePoller } from '@azure/arm-compute';
import { restorePoller as restoreResourcesPoller } from '@azure/arm-resources';
import type { OperationState, PollerLike } from '@azure/core-lro';
import type { AzureClients } from './clients.ts';
import { azureError, callAzure, KilnStepError } from './errors.ts';
import { parseResourceId } from './ids.ts';
import { observeRetryAfter } from './retryAfter.ts';
import { vmReady, vmStateFromInstanceView } from './vmState.ts';

/** Which client's poller helper understands this operation's URLs. */
export type OperationApi = 'compute' | 'resources';

/**
 * A started operation, safe to keep in orchestration history (two of the contracts' OperationRef kinds).
 * kind `lro`: the SDK poller's state; kind `vm-provisioning`: the request went out in an earlier attempt whose
 * poller state was lost, so the VM's own provisioningState is watched.
 */
export type OperationHandle =
  | {
      kind: 'lro';
      resourceId: string;
      action: string;
      api: OperationApi;
      /** The SDK poller's own serialized state (`poller.serialize()`), opaque to Kiln; null: nothing left to poll. */
      state: string | null;
    }
  | { kind: 'vm-provisioning'; resourceId: string; action: string };

/** `result` is the operation's final body (e.g. a disk's access SAS); it stays inside the polling activity. */
export type LroStatus = { done: false; retryAfterMs?: number } | { done: true; result?: unknown };

type AnyPoller = PollerLike<OperationState<unknown>, unknown>;

/**
 * Sends the operation's first request and returns a handle to poll it by, without waiting for it to finish;
 * undefined when the operation completed synchronously.
 */
export async function startOperation(
  start: () => AnyPoller,
  meta: { action: string; resourceId: string; api: OperationApi },
): Promise<OperationHandle | undefined> {
  try {
    const poller = start();
    await poller.submitted();
    if (poller.isDone) {
      await poller.pollUntilDone(); // returns at once; throws if the synchronous answer was a failure
      return undefined;
    }
    return { kind: 'lro', resourceId: meta.resourceId, action: meta.action, api: meta.api, state: await poller.serialize() };
  } catch (err) {
    throw azureError(err, meta.action, meta.resourceId);
  }
}

/** A handle that watches a VM's provisioningState (its create request went out earlier). */
export function watchVmProvisioning(resourceId: string): OperationHandle {
  return { kind: 'vm-provisioning', resourceId, action: 'create virtual machine' };
}

/** Polls a started operation once: done, still running, or a classified failure (thrown KilnStepError). */
export async function pollOperationHandle(clients: AzureClients, handle: OperationHandle): Promise<LroStatus> {
  if (handle.kind === 'vm-provisioning') return pollVmProvisioning(clients, handle);
  const { state, api, action } = handle;
  if (state === null) return { done: true };
  // The source operation only names the helper's lookup; the URL and method in the state pick the deserializer.
  const poller: AnyPoller =
    api === 'compute'
      ? restoreComputePoller(clients.compute, state, clients.compute.virtualMachines.get as never)
      : restoreResourcesPoller(clients.resources, state, clients.resources.resourceGroups.get as never);
  try {
    const { retryAfterMs } = await observeRetryAfter(() => poller.poll());
    if (!poller.isDone) return retryAfterMs === undefined ? { done: false } : { done: false, retryAfterMs };
    // Returns at once now; throws the operation's error if it failed.
    return { done: true, result: await poller.pollUntilDone() };
  } catch (err) {
    throw azureError(err, action, handle.resourceId);
  }
}

async function pollVmProvisioning(clients: AzureClients, handle: Extract<OperationHandle, { kind: 'vm-provisioning' }>): Promise<LroStatus> {
  const { resourceGroup, segments } = parseResourceId(handle.resourceId);
  const name = segments[segments.length - 1]![1];
  const vm = await callAzure(handle.action, handle.resourceId, () => clients.compute.virtualMachines.get(resourceGroup, name, { expand: 'instanceView' }));
  if (vm.provisioningState === 'Failed') {
    // Beginning again re-sends the create (a Failed VM is put again), which is what a retry of the step should do.
    throw new KilnStepError(`${handle.action} ${handle.resourceId} failed: provisioningState is Failed`, {
      retryable: true,
      operationFailed: true,
      code: 'ProvisioningFailed',
      resourceId: handle.resourceId,
    });
  }
  return { done: vmReady(vmStateFromInstanceView(vm.instanceView, vm.provisioningState)) };
}
