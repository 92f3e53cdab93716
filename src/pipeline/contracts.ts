/** What the ways in (HTTP, blob, timer, CLI) exchange with the bake orchestration: its input, events and progress. */

import type { BakeSpec } from '../template/spec.ts';
import type { StepName } from '../runs/progress.ts';
export type { BakeProgress } from '../runs/progress.ts';
import type { RunStatus, StepStatus, Trigger } from '../runs/record.ts';

/** Registered orchestration names. */
export const Orchestration = {
  bake: 'bake',
  replicateRegion: 'replicateRegion',
  rolloutScaleSet: 'rolloutScaleSet',
  /** Polls one long-running operation between durable timers until it ends or its deadline passes. */
  awaitOperation: 'awaitOperation',
  /** Releases a run's image locks and wakes each next waiter; the janitor starts it for a run that ended without. */
  releaseBakeLocks: 'releaseBakeLocks',
  /** Watches a bake's staging group go while it replicates, then wakes bakes waiting for vCPU quota (src/pipeline/quota-wait.ts). */
  freeBuildVm: 'freeBuildVm',
} as const;

/** Registered entity names. */
export const Entity = {
  /** One bake per gallery image at a time; see src/pipeline/bake-lock.ts. */
  bakeLock: 'bakeLock',
  /** Bakes waiting for vCPU quota for their build VM, per subscription and region; see src/pipeline/quota-queue.ts. */
  buildQuota: 'buildQuota',
} as const;

/** External events the bake listens for. */
export const BakeEvent = {
  /** No payload. Ends the bake Canceled after cleanup. */
  cancel: 'cancel',
  /** Payload ApproveEvent. Opens the approval gate before rollout. */
  approve: 'approve',
  /** No payload. The image lock this bake waits for was released: ask for it again now (src/pipeline/bake-lock.ts). */
  lockReleased: 'lockReleased',
  /** No payload. A Kiln bake freed its build VM in the region this bake waits for quota in: try the create again now. */
  quotaFreed: 'quotaFreed',
} as const;

export interface ApproveEvent {
  by?: string;
}

/** Input of orchestration `bake`; the instance id is the run id. No secret values in it, ever. */
export interface BakeInput {
  runId: string;
  /** When the API or a trigger accepted the bake (the Pending record's createdAt): the run's arrival, kept by its record. */
  acceptedAt?: string;
  templateName: string;
  trigger: Trigger;
  spec: BakeSpec;
  /** A failed run whose completed steps are reused (its captured version, its finished replication). */
  resumeFrom?: string;
}

/** Input of orchestration `releaseBakeLocks`. */
export interface ReleaseBakeLocksInput {
  runId: string;
  /** Entity keys (src/pipeline/bake-lock.ts lockKey). */
  keys: string[];
}

/** Instance ids of a bake's sub-orchestrations: derived from the run id, so a cancel can reach them too. */
export function childInstanceId(runId: string, kind: 'replicate' | 'rollout' | 'free-build-vm', index: number): string {
  return `${runId}:${kind}:${index}`;
}
