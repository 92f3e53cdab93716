/**
 * The WindowsUpdate loop, as AIB (Packer's windows-update provisioner) runs it: a pass searches, installs at most
 * updateLimit updates and restarts the VM when they need it; after the restart (waited for as a WindowsRestart is)
 * the next pass runs, until a pass finds nothing left to install. The step's watchdog bounds the whole loop.
 */

import { prepareRunCommandBlobs } from '../azure/runCommandBlobs.ts';
import { runCommandId } from '../azure/ids.ts';
import { startDeleteRunCommand, startRunCommand } from '../azure/runCommands.ts';
import type { OperationStatus } from './contracts.ts';
import { RUN_COMMAND, type CustomizerCommand, type RunCommandRef, type UpdateLoop } from './customize.ts';
import type { ActivityEnvironment } from './environment.ts';
import type { Pollers } from './poll.ts';
import { bootTimeIn, updatePassIn } from './scripts.ts';
import { startLiveOutput } from './live-output.ts';
import { pollWindowsRestart, restartWait, type RestartWaitRef } from './windows-restart.ts';

/** The wait for the restart a pass started; the next pass follows it. (Each pass itself is polled as a Run Command.) */
export const WINDOWS_UPDATE_RESTART = 'windows-update-restart';

/** The wait for the restart a pass started, with the loop to go on with. */
export interface UpdateRestartRef extends Omit<RestartWaitRef, 'kind' | 'update'> {
  kind: typeof WINDOWS_UPDATE_RESTART;
  update: UpdateLoop;
}

/** Where the loop goes after a pass that ended well: done, a restart to wait for, or the next pass at once. */
export async function continueUpdates(env: ActivityEnvironment, ref: RunCommandRef, loop: UpdateLoop, stdout: string): Promise<OperationStatus> {
  const { runId, phase, step, simulated } = ref;
  const { pass } = loop;
  const result = updatePassIn(stdout);
  if (!result) {
    return { state: 'Failed', error: { code: 'UpdatePassUnreported', message: `${phase} step "${step}": Windows Update pass ${pass} did not report how many updates it installed; Run Command ${ref.resourceId}`, retryable: false, resourceId: ref.resourceId } };
  }
  const store = await env.runStore();
  if (result.installed === 0) {
    await store.appendLog(runId, phase, `== ${phase} ${step}: pass ${pass} found no update left to install; done after ${pass} pass(es)\n`);
    return { state: 'Succeeded', ...(simulated ? { simulated } : {}) };
  }
  await store.appendLog(runId, phase, `== ${phase} ${step}: pass ${pass} installed ${result.installed} update(s)${result.restart ? ', restarting' : ''}\n`);
  if (!result.restart) return startNextPass(env, ref, loop);
  const bootBefore = bootTimeIn(stdout);
  if (!bootBefore) {
    return { state: 'Failed', error: { code: 'RestartNotStarted', message: `${phase} step "${step}": Windows Update pass ${pass} restarts the VM but reported no boot time; Run Command ${ref.resourceId}`, retryable: false, resourceId: ref.resourceId } };
  }
  return { state: 'InProgress', operation: { ...restartWait(ref, bootBefore), kind: WINDOWS_UPDATE_RESTART, update: loop } };
}

/** One look at the restart after a pass; once the VM is back, the next pass starts. */
export async function pollUpdateRestart(env: ActivityEnvironment, ref: UpdateRestartRef): Promise<OperationStatus> {
  const status = await pollWindowsRestart(env, ref);
  if (status.state !== 'Succeeded') return status;
  return startNextPass(env, status.simulated ? { ...ref, simulated: status.simulated } : ref, ref.update);
}

/** Starts the next pass as its own Run Command (with its own output blobs); the finished pass is deleted. */
export async function startNextPass(env: ActivityEnvironment, ref: RunCommandRef | UpdateRestartRef, loop: UpdateLoop): Promise<OperationStatus> {
  const { runId, resourceGroup: rg, vm, name, phase, location, step } = ref;
  const pass = loop.pass + 1;
  const passName = `${loop.base}-pass-${pass}`;
  const { timeoutInSeconds } = loop;
  const blobs = await prepareRunCommandBlobs(env.clients, runId, passName, (timeoutInSeconds + 3600) * 1000);
  await startRunCommand(env.clients, { resourceGroup: rg, vmName: vm, name: passName, location, script: loop.script, protectedParameters: [], timeoutInSeconds, ...blobs });
  // A VM holds at most 25 Run Commands: the pass before (and its restart check) are done with.
  if (name !== loop.base) await startDeleteRunCommand(env.clients, rg, vm, name);
  if (ref.kind === WINDOWS_UPDATE_RESTART) await startDeleteRunCommand(env.clients, rg, vm, `${name}-check-${ref.check}`);
  // The step's header again, so the pass's live output follows it (live-output.ts places its cursor after it).
  await (await env.runStore()).appendLog(runId, phase, `== ${phase} ${step}: pass ${pass} started\n== ${phase} ${loop.number}: ${step} (WindowsUpdate) started\n`);
  const next: RunCommandRef = {
    ...commandOf(ref),
    kind: RUN_COMMAND,
    resourceId: runCommandId(env.config.subscriptionId, rg, vm, passName),
    name: passName,
    update: { ...loop, pass },
  };
  return { state: 'InProgress', operation: await startLiveOutput(env, next) };
}

/** The step's own fields, without what belongs to one Run Command or one restart wait. */
function commandOf(ref: RunCommandRef | UpdateRestartRef): CustomizerCommand {
  if (ref.kind === RUN_COMMAND) {
    const { kind: _kind, resourceId: _id, liveOutput: _cursor, ...command } = ref;
    return command;
  }
  const { kind: _kind, resourceId: _id, bootBefore: _boot, check: _check, ...command } = ref;
  return command;
}

export const windowsUpdatePollers: Pollers<typeof WINDOWS_UPDATE_RESTART> = {
  [WINDOWS_UPDATE_RESTART]: pollUpdateRestart,
};
