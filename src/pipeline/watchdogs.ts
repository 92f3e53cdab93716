/**
 * Every wait's own deadline, so a hung step fails naming itself long before buildTimeoutInMinutes. Values follow
 * the p95 figures in the timings reference with headroom; the build deadline still caps the build's waits.
 */

import type { OsType } from '../azure/virtualMachines.ts';
import type { BakeSpec, Customizer, InVMValidation } from '../template/spec.ts';

const MINUTE = 60_000;

export const WATCHDOG_MS = {
  stagingGroup: 10 * MINUTE,
  stagingNetwork: 20 * MINUTE,
  stagingVm: { Linux: 20 * MINUTE, Windows: 60 * MINUTE },
  /** Managed Run Command's own cap is 90 minutes. */
  runCommand: 90 * MINUTE,
  /** Detached deprovision until the VM reports stopped: waagent takes seconds, sysprep up to an hour and more. */
  deprovision: { Linux: 15 * MINUTE, Windows: 90 * MINUTE },
  deallocate: 30 * MINUTE,
  generalize: 5 * MINUTE,
  capture: 3 * 60 * MINUTE,
  replicateRegion: 6 * 60 * MINUTE,
  promote: 15 * MINUTE,
  scaleSetModel: 15 * MINUTE,
  instanceUpgrade: { Linux: 30 * MINUTE, Windows: 60 * MINUTE },
  /** Upgraded instances still Initializing/Unknown after this count as unhealthy. */
  healthGate: 15 * MINUTE,
  deleteStagingGroup: 45 * MINUTE,
} as const;

/** How long Kiln follows an upgrade Azure runs (rolling, automatic, automatic OS): each batch's upgrade and health. */
export function platformUpgradeWatchdogMs(batchPercent: number, osType: OsType): number {
  return Math.ceil(100 / Math.max(1, batchPercent)) * (WATCHDOG_MS.instanceUpgrade[osType] + WATCHDOG_MS.healthGate);
}

/** How long a Run Command may take to report after its own timeout (agent pick-up, output upload). */
const RUN_COMMAND_REPORT_MS = 5 * MINUTE;

/** A script step's time: its template `timeout`, else what is left of the build, never more than that. */
export function stepLimitMs(step: Customizer | InVMValidation, buildLeftMs: number): number {
  const timeout = step.type === 'WindowsRestart' ? step.restartTimeout : step.timeout;
  return Math.max(0, Math.min(timeout?.ms ?? buildLeftMs, buildLeftMs));
}

/**
 * The watchdog of one step, from the same figure the activity gives the Run Command: a restart waits its
 * restartTimeout, WindowsUpdate its whole limit (every pass and restart), a script its Run Command's timeout
 * (at most Azure's 90 minutes) and the time to report it.
 */
export function customizerWatchdogMs(step: Customizer | InVMValidation, buildLeftMs: number): number {
  if (step.type === 'WindowsRestart') return step.restartTimeout.ms + 10 * MINUTE;
  const limit = stepLimitMs(step, buildLeftMs);
  if (step.type === 'WindowsUpdate') return limit;
  return Math.min(limit, WATCHDOG_MS.runCommand) + RUN_COMMAND_REPORT_MS;
}

/** Minutes or hours, for messages. */
export function describeMs(ms: number): string {
  if (ms % (60 * MINUTE) === 0) return `${ms / (60 * MINUTE)} h`;
  if (ms % MINUTE === 0) return `${ms / MINUTE} min`;
  return `${Math.round(ms / 1000)} s`;
}

/**
 * How long a bake may hold its lock without releasing it: the whole build, the approval gate, the slowest
 * rollout, and cleanup. Only a holder that died without releasing ever reaches it.
 */
export function lockLeaseMs(spec: BakeSpec, osType: OsType): number {
  const approval = spec.approval.required ? spec.approval.timeout.ms : 0;
  const rollouts = spec.rollout.map((target) => {
    const batches = Math.ceil(100 / target.batchPercent);
    const perBatch = WATCHDOG_MS.instanceUpgrade[osType] + WATCHDOG_MS.healthGate + target.pauseBetweenBatches.ms;
    // Rollback: the model and at most every instance again.
    return 2 * WATCHDOG_MS.scaleSetModel + batches * perBatch + WATCHDOG_MS.instanceUpgrade[osType];
  });
  return spec.buildTimeoutInMinutes * MINUTE + approval + Math.max(0, ...rollouts) + WATCHDOG_MS.deleteStagingGroup;
}
