/**
 * Step 6, generalize: deprovision started detached inside the VM (a foreground waagent/sysprep never reports back),
 * then wait for the VM to stop, deallocate it, and mark it generalized. The VM goes with the staging group.
 */

import { getRunCommand, startRunCommand } from '../azure/runCommands.ts';
import { generalizeVm as markGeneralized, getVmState, startDeallocate } from '../azure/virtualMachines.ts';
import type { AzureClients } from '../azure/clients.ts';
import type {
  BeginDeallocateInput,
  BeginDeprovisionInput,
  GeneralizeVmInput,
  GeneralizeVmOutput,
  OperationStatus,
} from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { runCommandName } from './naming.ts';
import { operationStatus, statusOf } from './outcomes.ts';
import type { Pollers } from './poll.ts';
import { deprovisionScript } from './scripts.ts';

export const VM_STOPPED = 'vm-stopped';

/** The wait for the guest to shut itself down after the deprovision Run Command `runCommand`. */
export interface VmStoppedRef {
  kind: typeof VM_STOPPED;
  resourceId: string;
  resourceGroup: string;
  vm: string;
  runCommand: string;
}

const STOPPED = new Set(['stopped', 'deallocated']);

export async function beginDeprovision({ plan }: BeginDeprovisionInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    const rg = plan.staging.resourceGroupName;
    const vm = plan.staging.vmName;
    const name = runCommandName('deprovision');
    // Both reads at once: the Run Command's is needed whenever the VM still runs, which is nearly always.
    const [state, existing] = await Promise.all([getVmState(clients, rg, vm), getRunCommand(clients, rg, vm, name)]);
    if (state.generalized || (state.powerState && STOPPED.has(state.powerState))) return { state: 'Succeeded' };
    if (!existing) {
      const script = deprovisionScript(plan.osType);
      await startRunCommand(clients, {
        resourceGroup: rg,
        vmName: vm,
        name,
        location: plan.location,
        script: script.script,
        protectedParameters: [],
        timeoutInSeconds: script.timeoutInSeconds,
      });
    }
    return { state: 'InProgress', operation: { kind: VM_STOPPED, resourceId: plan.staging.vmId, resourceGroup: rg, vm, runCommand: name } };
  });
}

/**
 * One look at the VM's power state: Succeeded once the guest has shut itself down — simulated when the platform
 * says the deprovision script itself was not run (the stop then proves nothing about the image).
 */
export async function pollVmStopped(clients: AzureClients, ref: VmStoppedRef): Promise<OperationStatus> {
  const { resourceGroup: rg, vm } = ref;
  const state = await getVmState(clients, rg, vm);
  if (!state.exists) {
    return { state: 'Failed', error: { code: 'NotFound', message: `generalize: VM ${ref.resourceId} no longer exists`, retryable: false, resourceId: ref.resourceId } };
  }
  if (!state.generalized && !(state.powerState && STOPPED.has(state.powerState))) return { state: 'InProgress', operation: ref };
  const simulated = (await getRunCommand(clients, rg, vm, ref.runCommand))?.simulated;
  return { state: 'Succeeded', ...(simulated ? { simulated } : {}) };
}

export const generalizePollers: Pollers<typeof VM_STOPPED> = {
  [VM_STOPPED]: (env, ref) => pollVmStopped(env.clients, ref),
};

export async function beginDeallocate({ plan }: BeginDeallocateInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    return statusOf(await startDeallocate(clients, plan.staging.resourceGroupName, plan.staging.vmName));
  });
}

export async function generalizeVm({ plan }: GeneralizeVmInput): Promise<GeneralizeVmOutput> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    await markGeneralized(clients, plan.staging.resourceGroupName, plan.staging.vmName);
    return { state: 'Succeeded' };
  });
}
