/**
 * The WindowsUpdate loop, as AIB (Packer's windows-update provisioner) runs it: a pass searches, installs at most
 * updateLimit updates and restarts the VM when they need it; after the restart (waited for as a WindowsRestart is)
 * the next pass runs, until a pass finds nothing left to install. The step's watchdog bounds the whole loop.
 */

import { prepareRunCommandBlobs } from '../azure/runCommandBlobs.ts';
import { runCommandId } from '../azure/ids.ts';
import { startDeleteRunCommand, startRunCommand } from '../azure/runCommands.ts';
import type { OperationRef, OperationStatus } from './contracts.ts';
import type { ActivityEnvironment } from './environment.ts';
import { bootTimeIn, updatePassIn } from './scripts.ts';
import { startLiveOutput } from './live-output.ts';
import { pollWindowsRestart, restartWait } from './windows-restart.ts';

/** The operation kind of an update pass after the first: polled as any customizer's Run Command. */
export const WINDOWS_UPDATE_PASS = 'windows-update-pass';
/** The wait for the restart a pass started; the next pass follows it. */
export const WINDOWS_UPDATE_RESTART = 'windows-update-restart';

/** Where the loop goes after a pass that ended well: done, a restart to wait for, or the next pass at once. */
export async function continueUpdates(env: ActivityEnvironment, ref: OperationRef, stdout: string): Promise<OperationStatus> {
  const d = ref.data ?? {};
  const [runId, phase, step] = ['runId', 'phase', 'step'].map((k) => String(d[k]));
  const pass = Number(d['pass'] ?? 1);
  const simulated = typeof d['simulated'] === 'string' ? d['simulated'] : undefined;
  const result = updatePassIn(stdout);
  if (!result) {
    return { state: 'Failed', error: { code: 'UpdatePassUnreported', message: `${phase} step "${step}": Windows Update pass ${pass} did not report how many updates it installed; Run Command ${ref.resourceId}`, retryable: false, resourceId: ref.resourceId } };
  }
  const store = await env.runStore();
  if (result.installed === 0) {
    await store.appendLog(runId!, phase!, `== ${phase} ${step}: pass ${pass} found no update left to install; done after ${pass} pass(es)\n`);
    return { state: 'Succeeded', ...(simulated ? { simulated } : {}) };
  }
  await store.appendLog(runId!, phase!, `== ${phase} ${step}: pass ${pass} installed ${result.installed} update(s)${result.restart ? ', restarting' : ''}\n`);
  if (!result.restart) return startNextPass(env, ref);
  const bootBefore = bootTimeIn(stdout);
  if (!bootBefore) {
    return { state: 'Failed', error: { code: 'RestartNotStarted', message: `${phase} step "${step}": Windows Update pass ${pass} restarts the VM but reported no boot time; Run Command ${ref.resourceId}`, retryable: false, resourceId: ref.resourceId } };
  }
  return { state: 'InProgress', operation: { ...restartWait(ref, bootBefore), kind: WINDOWS_UPDATE_RESTART } };
}

/** One look at the restart after a pass; once the VM is back, the next pass starts. */
export async function pollUpdateRestart(env: ActivityEnvironment, ref: OperationRef): Promise<OperationStatus> {
  const status = await pollWindowsRestart(env, ref);
  if (status.state !== 'Succeeded') return status;
  return startNextPass(env, status.simulated ? { ...ref, data: { ...ref.data, simulated: status.simulated } } : ref);
}

/** Starts the next pass as its own Run Command (with its own output blobs); the finished pass is deleted. */
export async function startNextPass(env: ActivityEnvironment, ref: OperationRef): Promise<OperationStatus> {
  const d = ref.data ?? {};
  const [runId, rg, vm, name, phase, location] = ['runId', 'resourceGroup', 'vm', 'name', 'phase', 'location'].map((k) => String(d[k]));
  const pass = Number(d['pass'] ?? 1) + 1;
  const base = String(d['updateBase'] ?? name);
  const passName = `${base}-pass-${pass}`;
  const timeoutInSeconds = Number(d['timeoutInSeconds']);
  const blobs = await prepareRunCommandBlobs(env.clients, runId!, passName, (timeoutInSeconds + 3600) * 1000);
  await startRunCommand(env.clients, { resourceGroup: rg!, vmName: vm!, name: passName, location: location!, script: String(d['passScript']), protectedParameters: [], timeoutInSeconds, ...blobs });
  // A VM holds at most 25 Run Commands: the pass before (and its restart check) are done with.
  if (name !== base) await startDeleteRunCommand(env.clients, rg!, vm!, name!);
  if (d['check'] !== undefined) await startDeleteRunCommand(env.clients, rg!, vm!, `${name}-check-${String(d['check'])}`);
  // The step's header again, so the pass's live output follows it (live-output.ts places its cursor after it).
  const step = String(d['step']);
  await (await env.runStore()).appendLog(runId!, phase!, `== ${phase} ${step}: pass ${pass} started\n== ${phase} ${String(d['number'])}: ${step} (WindowsUpdate) started\n`);
  const { bootBefore: _boot, check: _check, ...rest } = d;
  const next: OperationRef = { kind: WINDOWS_UPDATE_PASS, resourceId: runCommandId(env.config.subscriptionId, rg!, vm!, passName), data: { ...rest, updateBase: base, name: passName, pass } };
  return { state: 'InProgress', operation: await startLiveOutput(env, next) };
}
