/**
 * The wait after a WindowsRestart customizer: its Run Command printed the boot time and scheduled the restart;
 * here a small check Run Command (with the template's restartCheckCommand) runs until it reports a newer boot.
 * A check that runs before the reboot, or fails while the VM is down, is replaced by the next one.
 */

import { getRunCommand, startDeleteRunCommand, startRunCommand } from '../azure/runCommands.ts';
import type { OperationStatus } from './contracts.ts';
import type { CustomizerCommand, RunCommandRef } from './customize.ts';
import type { ActivityEnvironment } from './environment.ts';
import { lastLines } from './masking.ts';
import type { Pollers } from './poll.ts';
import type { UpdateRestartRef } from './windows-update.ts';
import { bootTimeIn, restartCheckScript } from './scripts.ts';

export const WINDOWS_RESTART = 'windows-restart';

const RUNNING = new Set(['Unknown', 'Pending', 'Running']);

/** The wait for a restart: check Run Commands `{name}-check-{check}` until one sees a boot newer than `bootBefore`. */
export interface RestartWaitRef extends CustomizerCommand {
  kind: typeof WINDOWS_RESTART;
  resourceId: string;
  bootBefore: string;
  check: number;
}

/** The operation that waits for the restart, started once the restart's own Run Command has succeeded. */
export function restartWait(ref: RunCommandRef, bootBefore: string): RestartWaitRef {
  const { kind: _kind, liveOutput: _cursor, ...command } = ref;
  return { ...command, kind: WINDOWS_RESTART, bootBefore, check: 0 };
}

export async function pollWindowsRestart(env: ActivityEnvironment, ref: RestartWaitRef | UpdateRestartRef): Promise<OperationStatus> {
  const { runId, resourceGroup: rg, vm, name, phase, step, location, check } = ref;
  const checkName = `${name}-check-${check}`;
  const view = await getRunCommand(env.clients, rg, vm, checkName);
  if (!view) {
    const script = restartCheckScript(ref.restartCheck ?? undefined);
    await startRunCommand(env.clients, { resourceGroup: rg, vmName: vm, name: checkName, location, script: script.script, protectedParameters: [], timeoutInSeconds: script.timeoutInSeconds });
    return { state: 'InProgress', operation: ref };
  }
  if (RUNNING.has(view.executionState) && view.provisioningState !== 'Failed') return { state: 'InProgress', operation: ref };

  const bootAfter = bootTimeIn(view.outputTail);
  const rebooted = bootAfter !== undefined && bootAfter !== ref.bootBefore;
  if (rebooted) {
    const store = await env.runStore();
    if (view.executionState === 'Succeeded' && (view.exitCode ?? 0) === 0) {
      // A check the platform did not run (restartCheckCommand included) makes the restart simulated too.
      const simulated = view.simulated ?? ref.simulated;
      await store.appendLog(runId, phase, `== ${phase} ${step} restarted (boot ${ref.bootBefore} → ${bootAfter})${simulated ? ` (simulated: ${simulated})` : ''}\n`);
      return { state: 'Succeeded', ...(simulated ? { simulated } : {}) };
    }
    // Up again, but the template's restartCheckCommand says the machine is not ready: that is the step failing.
    await store.appendLog(runId, phase, `${view.outputTail}\n${view.errorTail}\n== ${phase} ${step} restart check failed\n`);
    return {
      state: 'Failed',
      error: {
        code: 'ScriptFailed',
        message: `${phase} step "${step}": the restart check failed after the restart (${view.executionState}${view.exitCode !== undefined ? `, exit code ${view.exitCode}` : ''})`,
        retryable: false,
        ...(view.exitCode !== undefined ? { exitCode: view.exitCode } : {}),
        lastLines: lastLines(`${view.outputTail}\n${view.errorTail}`, 20),
        resourceId: ref.resourceId,
      },
    };
  }
  // Ran before the reboot, or failed while the VM went down: replace it with a fresh check.
  await startDeleteRunCommand(env.clients, rg, vm, checkName);
  return { state: 'InProgress', operation: { ...ref, check: check + 1 } };
}

export const windowsRestartPollers: Pollers<typeof WINDOWS_RESTART> = {
  [WINDOWS_RESTART]: pollWindowsRestart,
};
