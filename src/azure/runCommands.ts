/** Managed Run Commands (virtualMachines/runCommands): start a script, read its instance view, delete it. */

import type { VirtualMachineRunCommand, VirtualMachineRunCommandInstanceView } from '@azure/arm-compute';
import type { AzureClients } from './clients.ts';
import { getIfExists } from './errors.ts';
import { runCommandId } from './ids.ts';
import { startOperation } from './operations.ts';

export interface RunCommandRequest {
  resourceGroup: string;
  vmName: string;
  name: string;
  location: string;
  script: string;
  /** Environment variables the script sees; secret values go here, never into `script`. */
  protectedParameters: Array<{ name: string; value: string }>;
  timeoutInSeconds: number;
  /** Append-blob URIs (with a SAS) that receive the full stdout and stderr; none for a fire-and-forget script. */
  outputBlobUri?: string;
  errorBlobUri?: string;
}

/**
 * The managed Run Command body. asyncExecution: the PUT ends when the script starts and Kiln polls the instance
 * view; treatFailureAsDeploymentFailure false: the exit code, not the provisioning state, says how it ended.
 */
export function runCommandModel(r: RunCommandRequest): VirtualMachineRunCommand {
  return {
    location: r.location,
    source: { script: r.script },
    ...(r.protectedParameters.length > 0 ? { protectedParameters: r.protectedParameters } : {}),
    asyncExecution: true,
    timeoutInSeconds: r.timeoutInSeconds,
    ...(r.outputBlobUri ? { outputBlobUri: r.outputBlobUri } : {}),
    ...(r.errorBlobUri ? { errorBlobUri: r.errorBlobUri } : {}),
    treatFailureAsDeploymentFailure: false,
  };
}

export type ExecutionState = 'Unknown' | 'Pending' | 'Running' | 'Failed' | 'Succeeded' | 'TimedOut' | 'Canceled';

export interface RunCommandView {
  provisioningState?: string;
  executionState: ExecutionState;
  exitCode?: number;
  /** The last 4 KB of stdout/stderr the instance view keeps (the full text is in the blobs). */
  outputTail: string;
  errorTail: string;
  executionMessage?: string;
  /**
   * Set (to why) when the platform reports that the script was NOT run: a status with code
   * `ScriptExecution/simulated`, which the local emulator gives where it cannot run a guest's script. Never a success.
   */
  simulated?: string;
}

/** The instance-view status code that says a script was not run (docs/emulator-guests.md). */
export const NOT_RUN_STATUS_CODE = 'ScriptExecution/simulated';

export function runCommandView(rc: VirtualMachineRunCommand): RunCommandView {
  const iv: VirtualMachineRunCommandInstanceView | undefined = rc.instanceView;
  return {
    provisioningState: rc.provisioningState,
    executionState: (iv?.executionState as ExecutionState | undefined) ?? 'Unknown',
    exitCode: iv?.exitCode,
    outputTail: iv?.output ?? '',
    errorTail: iv?.error ?? '',
    executionMessage: iv?.executionMessage,
    ...notRun(iv),
  };
}

function notRun(iv: VirtualMachineRunCommandInstanceView | undefined): { simulated?: string } {
  const marker = iv?.statuses?.find((s) => s.code?.toLowerCase() === NOT_RUN_STATUS_CODE.toLowerCase());
  return marker ? { simulated: marker.message || iv?.executionMessage || 'the script was not run' } : {};
}

export async function getRunCommand(clients: AzureClients, resourceGroup: string, vmName: string, name: string): Promise<RunCommandView | undefined> {
  const id = runCommandId(clients.subscriptionId, resourceGroup, vmName, name);
  const rc = await getIfExists('read run command', id, () =>
    clients.compute.virtualMachineRunCommands.getByVirtualMachine(resourceGroup, vmName, name, { expand: 'instanceView' }),
  );
  return rc && runCommandView(rc);
}

/**
 * Sends the Run Command unless one of that name exists already (a repeated activity must not run the script
 * twice). Only the first request is awaited; the instance view is polled afterwards.
 */
export async function startRunCommand(clients: AzureClients, r: RunCommandRequest): Promise<'started' | 'exists'> {
  if (await getRunCommand(clients, r.resourceGroup, r.vmName, r.name)) return 'exists';
  const id = runCommandId(clients.subscriptionId, r.resourceGroup, r.vmName, r.name);
  await startOperation(() => clients.compute.virtualMachineRunCommands.createOrUpdate(r.resourceGroup, r.vmName, r.name, runCommandModel(r)), {
    action: 'start run command',
    resourceId: id,
    api: 'compute',
  });
  return 'started';
}

/** Starts deleting a Run Command (stopping it if it still runs); gone already is fine. */
export async function startDeleteRunCommand(clients: AzureClients, resourceGroup: string, vmName: string, name: string): Promise<void> {
  const id = runCommandId(clients.subscriptionId, resourceGroup, vmName, name);
  await startOperation(() => clients.compute.virtualMachineRunCommands.delete(resourceGroup, vmName, name), {
    action: 'delete run command',
    resourceId: id,
    api: 'compute',
  });
}
