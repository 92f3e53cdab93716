/** Progress shapes a run shows while it runs: written by the pipeline, read by run records, the API and the CLI. */

import type { RunStatus, StepStatus } from './record.ts';

/** The bake's steps in pipeline order: the one list the orchestration runs, the record holds and the CLI shows. */
export const BAKE_STEPS = [
  'plan',
  'lock',
  'stage',
  'customize',
  'validate',
  'generalize',
  'capture',
  'replicate',
  'promote',
  'approve',
  'rollout',
  'cleanup',
] as const;

export type StepName = (typeof BAKE_STEPS)[number];

export interface RegionProgress {
  kind: 'region';
  region: string;
  state: 'Queued' | 'Replicating' | 'Completed' | 'Failed';
  percent: number;
  message?: string;
  /** When the run store first saw the region, and saw it Completed or Failed (stamped by src/runs/timeline.ts). */
  startedAt?: string;
  endedAt?: string;
}

/** How a rollout moved a scale set: Kiln's batches, or following Azure's rolling, automatic or automatic OS upgrade. */
export type RolloutPath = 'batches' | 'rolling' | 'automatic' | 'automaticOSUpgrade';

export interface ScaleSetProgress {
  kind: 'scaleSet';
  scaleSetId: string;
  status: 'Pending' | 'Updating' | 'Succeeded' | 'RolledBack' | 'Failed';
  /** Instances on the new image and healthy. */
  updated: number;
  total: number;
  batch: number;
  batches: number;
  path?: RolloutPath;
  message?: string;
  /** When the rollout of this scale set was first saved and when it ended (stamped by src/runs/timeline.ts). */
  startedAt?: string;
  endedAt?: string;
  /** When batch k+1 was reported done (healthy), at index k. */
  batchEndedAt?: string[];
}

/** Custom status of `bake`: what the API and the CLI show while it runs. */
export interface BakeProgress {
  runId: string;
  status: RunStatus;
  /** The step running now (the last one when finished). */
  step: StepName;
  steps: { name: StepName; status: StepStatus }[];
  /** Replication per region (state and percent). */
  regions: Record<string, { state: string; percent: number }>;
  /** Rollout per scale set. */
  scaleSets: { id: string; status: string; batch: number; batches: number; updated: number; total: number }[];
  /** Why the bake is waiting (a lock held by another run, the approval gate), when it is. */
  waitingFor?: string;
}
