/** The run record (docs/design.md §6): the durable account of one bake that the API, the CLI and users read. */

import type { BakeSpec } from '../template/spec.ts';
import type { RolloutPath } from './progress.ts';

export type RunStatus = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';

/** The statuses a run ends in; a record in one of them no longer changes. */
export const FINAL_RUN_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['Succeeded', 'Failed', 'Canceled']);
/** `Simulated`: the step ended, but some of its scripts were not run (the local emulator could not); never a success. */
export type StepStatus = 'Pending' | 'Running' | 'Succeeded' | 'Simulated' | 'Failed' | 'Skipped' | 'Canceled';
export type Trigger = 'http' | 'blob' | 'timer' | 'cli' | 'retry';

export interface StepRecord {
  name: string;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  /** How many times the step's operations were begun (a re-begun failed LRO counts). */
  attempts: number;
  message?: string;
}

export interface ScaleSetOutcome {
  id: string;
  status: 'Pending' | 'Updating' | 'Succeeded' | 'RolledBack' | 'Failed';
  updated: number;
  total: number;
  /** The path the rollout followed (the scale set's upgrade policy, or the template's `mode: batches`). */
  path?: RolloutPath;
  /** Members protected from scale set actions, left on the image they ran. */
  protected?: string[];
}

export interface RunOutputs {
  /** The gallery version the run captured (absent until capture succeeded, also when it reused an earlier run's). */
  imageVersionId?: string;
  version?: string;
  /** The version the run planned to make; becomes `version` only once captured. */
  plannedVersion?: string;
  /** The resolved source version (a marketplace `latest` resolved). */
  sourceVersion?: string;
  /** Replication state per region name. */
  regions: Record<string, string>;
  scaleSets: ScaleSetOutcome[];
  /** Other artifacts by runOutputName (managed image ids, VHD URIs). */
  artifacts?: Record<string, string>;
}

/** An operation whose script was not run (the platform said so): which step, which operation, and why. */
export interface SimulatedStep {
  step: string;
  operation: string;
  reason: string;
}

export interface RunError {
  step: string;
  code: string;
  message: string;
  exitCode?: number;
  lastLines?: string[];
}

export interface RunRecord {
  id: string;
  templateName: string;
  trigger: Trigger;
  status: RunStatus;
  createdAt: string;
  endedAt?: string;
  steps: StepRecord[];
  outputs: RunOutputs;
  error?: RunError;
  /** Operations whose scripts were not run; a Succeeded run with any is not a clean success (its steps say Simulated). */
  simulatedSteps?: SimulatedStep[];
  /** The run whose completed steps this one reused. */
  resumeFrom?: string;
  /** The staging group and what happened to it (kept when errorHandling says abort). */
  staging?: { resourceGroupId: string; state: 'Present' | 'Deleted' | 'Kept'; reason?: string };
  /** The spec the run baked (references to secrets only, never values): what a retry bakes again. */
  spec?: BakeSpec;
  /** Template errors, for a run a trigger refused before it started. */
  templateErrors?: { path: string; message: string }[];
}
