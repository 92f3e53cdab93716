/** pollOperation: one look at any operation a begin… activity started, dispatched on the operation's kind. */

import { pollOperationHandle, type OperationHandle } from '../azure/operations.ts';
import type { OperationRef, PollOperationInput, PollOperationOutput } from './contracts.ts';
import { advanceCapture, CAPTURE } from './capture.ts';
import { pollRunCommand, RUN_COMMAND } from './customize.ts';
import { activityEnvironment } from './environment.ts';
import { pollVmStopped, VM_STOPPED } from './generalize.ts';
import { operationStatus } from './outcomes.ts';
import { deleteStagedResources, GROUP_DELETED, pollGroupDeleted, STAGED_RESOURCES_DELETED } from './stage-group.ts';
import { pollVhdExportRef, VHD_EXPORT } from './vhd-export.ts';
import { pollWindowsRestart, WINDOWS_RESTART } from './windows-restart.ts';
import { pollUpdateRestart, WINDOWS_UPDATE_PASS, WINDOWS_UPDATE_RESTART } from './windows-update.ts';

export async function pollOperation(ref: PollOperationInput): Promise<PollOperationOutput> {
  return operationStatus(async () => {
    const env = activityEnvironment();
    switch (ref.kind) {
      case 'lro':
      case 'vm-provisioning':
      {
        const status = await pollOperationHandle(env.clients, ref as unknown as OperationHandle);
        if (status.done) return { state: 'Succeeded' };
        return { state: 'InProgress', operation: ref, ...(status.retryAfterMs !== undefined ? { retryAfterMs: status.retryAfterMs } : {}) };
      }
      case 'all':
        return pollAll(ref);
      case RUN_COMMAND:
      case WINDOWS_UPDATE_PASS:
        return pollRunCommand(env, ref);
      case WINDOWS_UPDATE_RESTART:
        return pollUpdateRestart(env, ref);
      case VM_STOPPED:
        return pollVmStopped(env.clients, ref);
      case GROUP_DELETED:
        return pollGroupDeleted(env.clients, ref);
      case STAGED_RESOURCES_DELETED:
        return deleteStagedResources(env.clients, ref);
      case CAPTURE:
        return advanceCapture(env.clients, ref);
      case WINDOWS_RESTART:
        return pollWindowsRestart(env, ref);
      case VHD_EXPORT:
        return pollVhdExportRef(env.clients, ref);
      default:
        return { state: 'Failed', error: { code: 'UnknownOperation', message: `pollOperation: no poller for operation kind ${JSON.stringify(ref.kind)}`, retryable: false, resourceId: ref.resourceId } };
    }
  });
}

/** Several operations started together: done when all are; the ones still running travel on. */
async function pollAll(ref: OperationRef): Promise<PollOperationOutput> {
  const env = activityEnvironment();
  const handles = JSON.parse(String(ref.data?.['operations'] ?? '[]')) as OperationHandle[];
  const running: OperationHandle[] = [];
  for (const handle of handles) {
    if (!(await pollOperationHandle(env.clients, handle)).done) running.push(handle);
  }
  if (running.length === 0) return { state: 'Succeeded' };
  return { state: 'InProgress', operation: { ...ref, data: { operations: JSON.stringify(running) } } };
}
