/**
 * The activities the bake calls: their names and their input and output types, nothing else. Orchestrations
 * (src/pipeline) import only this module from src/activities, so no I/O can leak into them.
 *
 * Conventions every activity follows:
 * - Idempotent: deterministic resource names come from the plan; "already exists", "already deallocated" and
 *   "already gone" are success.
 * - A transient failure (throttling 429, 5xx, a connection reset) is THROWN: the orchestration retries it with
 *   callActivityWithRetry. A classified permanent failure (bad reference, quota, policy denial, script exit code
 *   ≠ 0, a failed long-running operation) is RETURNED as `{ state: 'Failed', error }` / `{ ok: false, error }` so
 *   the bake fails fast with the step, the exit code and the last output lines. `retryable: true` on a returned
 *   failure means "begin the same operation again" (e.g. an LRO that ended Failed with InternalServerError).
 * - No long waits inside: a long operation is started by a `begin…` activity and polled by `pollOperation` between
 *   durable timers in the orchestration; an activity looks again itself only within the short quick-look window
 *   (src/activities/quick-looks.ts).
 * - No secret values in any input or output: customizers name secrets; the activity resolves them from Key Vault,
 *   passes them as protectedParameters and masks them in output and logs.
 */

import type { BakeSpec, ReplicaRegion } from '../template/spec.ts';
import type { RunRecord } from '../runs/record.ts';
import type { HealthSource, OrchestrationMode, RollingUpgradeState, ScaleSetImage, UpgradeMode } from '../azure/scaleSets.ts';

/** Every activity's registered name. */
export const Activity = {
  // run records (src/runs) — durable copies written by the orchestration
  loadRunRecord: 'loadRunRecord',
  saveRunRecord: 'saveRunRecord',
  saveRunProgress: 'saveRunProgress',
  // 1 plan
  planBake: 'planBake',
  // 3 stage
  createStagingGroup: 'createStagingGroup',
  beginStagingNetwork: 'beginStagingNetwork',
  beginStagingVm: 'beginStagingVm',
  // 4 customize and 5 validate
  beginCustomizer: 'beginCustomizer',
  // 6 generalize
  beginDeprovision: 'beginDeprovision',
  beginDeallocate: 'beginDeallocate',
  generalizeVm: 'generalizeVm',
  // 7 capture
  beginCapture: 'beginCapture',
  // 8 replicate
  beginReplication: 'beginReplication',
  readReplication: 'readReplication',
  // 9 promote
  beginPromote: 'beginPromote',
  // 11 rollout
  readScaleSet: 'readScaleSet',
  beginScaleSetModel: 'beginScaleSetModel',
  beginInstanceUpgrade: 'beginInstanceUpgrade',
  readInstances: 'readInstances',
  readRollingUpgrade: 'readRollingUpgrade',
  beginRollingUpgrade: 'beginRollingUpgrade',
  beginCancelRollingUpgrade: 'beginCancelRollingUpgrade',
  // finally
  beginDeleteStagingGroup: 'beginDeleteStagingGroup',
  // every begin… above
  pollOperation: 'pollOperation',
  watchOperation: 'watchOperation',
  // events on other orchestrations (src/activities/raise-events.ts, registered in functions/orchestrations.ts)
  forwardCancel: 'forwardCancel',
  wakeLockWaiter: 'wakeLockWaiter',
  wakeQuotaWaiters: 'wakeQuotaWaiters',
  // after the final record: webhooks (E's activity; it starts its own orchestration and returns at once)
  notifyCompletion: 'notifyCompletion',
} as const;

export type ActivityName = (typeof Activity)[keyof typeof Activity];

export type { StepName, RegionProgress, ScaleSetProgress } from '../runs/progress.ts';
import type { StepName, RegionProgress, ScaleSetProgress } from '../runs/progress.ts';

// ---- shared shapes --------------------------------------------------------------------------------------------


/** A classified failure, safe to show (no secret values; script output already masked). */
export interface StepFailure {
  /** Azure error code (`OperationNotAllowed`, `QuotaExceeded`, …) or Kiln's (`ScriptFailed`, `ChecksumMismatch`). */
  code: string;
  /** What was expected and what was found, and where (resource id, customizer name). */
  message: string;
  /** True: beginning the same operation again may succeed (a failed LRO with a 5xx-class code). */
  retryable: boolean;
  /** Script steps: the script's exit code. */
  exitCode?: number;
  /** Script steps: the last lines of stdout/stderr (masked), at most 20. */
  lastLines?: string[];
  /** Set when Azure refused for quota: the bake waits for it to free up (stage's build VM create). */
  quota?: QuotaRefusal;
  resourceId?: string;
}

/** Result of a read that can fail permanently (not found, forbidden). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: StepFailure };

// Each kind's ref is declared by its step module; type-only imports are erased, so no I/O reaches an orchestration.
import type { OperationHandle } from '../azure/operations.ts';
import type { QuotaRefusal } from '../azure/errors.ts';
export type { QuotaRefusal };
import type { AllRef } from './outcomes.ts';
import type { RestartWaitRef } from './windows-restart.ts';
import type { UpdateRestartRef } from './windows-update.ts';
import type { RunCommandRef } from './customize.ts';
import type { VmStoppedRef } from './generalize.ts';
import type { CaptureRef } from './capture.ts';
import type { VhdExportRef } from './vhd-export.ts';
import type { GroupDeletedRef, StagedResourcesRef } from './stage-group.ts';

/**
 * A started long-running operation, as `pollOperation` needs it again: one typed shape per kind, each defined by
 * the step module that begins and polls it. It travels through durable history, so it is plain JSON (no functions,
 * no classes, no JSON text inside). The orchestration only carries it from a begin… to pollOperation.
 */
export type OperationRef =
  | OperationHandle
  | AllRef
  | RunCommandRef
  | RestartWaitRef
  | UpdateRestartRef
  | VmStoppedRef
  | CaptureRef
  | VhdExportRef
  | GroupDeletedRef
  | StagedResourcesRef;

export type OperationKind = OperationRef['kind'];

/** State of a long-running operation, from a begin… activity or from pollOperation. */
export type OperationStatus =
  | {
      state: 'InProgress';
      operation: OperationRef;
      /** The operation's own hint (Retry-After) for the next poll; the orchestration clamps it to the plan's bounds. */
      retryAfterMs?: number;
      /** 0–100 when Azure reports progress. */
      percent?: number;
    }
  | {
      state: 'Succeeded';
      /** Why the operation's script was NOT run, when the platform said so: the step is then Simulated, not Succeeded. */
      simulated?: string;
    }
  | { state: 'Failed'; error: StepFailure };

// ---- run records ----------------------------------------------------------------------------------------------

/** loadRunRecord: the record of a run (null when there is none). */
export interface LoadRunRecordInput {
  runId: string;
}
export type LoadRunRecordOutput = RunRecord | null;

/** saveRunRecord: write the whole record (the orchestration owns it; last write wins). Output: void. */
export type SaveRunRecordInput = RunRecord;

/**
 * saveRunProgress: a sub-orchestration's live progress, written beside the record (`{id}/progress/{key}.json`) so
 * parallel children never race on the record. `key` is e.g. `region-westeurope` or `scaleset-0`. Output: void.
 */
export interface SaveRunProgressInput {
  runId: string;
  key: string;
  progress: RegionProgress | ScaleSetProgress;
}



// ---- 1 plan ---------------------------------------------------------------------------------------------------

export interface PlanBakeInput {
  runId: string;
  spec: BakeSpec;
  /** The orchestration's current time (ISO): the staging group's expiry tag is computed from it. */
  now: string;
  /** Resume: the gallery version an earlier run of this template already captured; plan it again, do not pick the next. */
  reuseVersion?: string;
  /** The plan again after waiting for the lock (only the version may be stale): preflight passed already, not run again. */
  preflighted?: boolean;
}
export type PlanBakeOutput = Outcome<BakePlan>;

/** Everything the bake needs to know before it starts, decided once (names, versions, bounds). No secrets. */
export interface BakePlan {
  runId: string;
  location: string;
  osType: 'Linux' | 'Windows';
  /** What the source and target images require of the build VM (added by D1; read by beginStagingVm and capture). */
  build: {
    /** A specialized source must be deployed without osProfile. */
    sourceIsSpecialized: boolean;
    /** The target (or source) image definition asks for Trusted Launch. */
    trustedLaunch: boolean;
    hyperVGeneration: 'V1' | 'V2';
  };
  /** Resolved source (e.g. the marketplace `latest` resolved to a version), for the record. */
  sourceVersion?: string;
  staging: {
    resourceGroupName: string;
    resourceGroupId: string;
    /**
     * False when the template named a group: Kiln creates it if it is missing (then it is Kiln's, tagged with the
     * run id, and deleted after the bake); in a group that already existed Kiln deletes only what it created.
     */
    createdByKiln: boolean;
    /** The template's tags and managedResourceTags: on every resource Kiln stages (Kiln's own tags win). */
    tags: Record<string, string>;
    /** ISO time after which the janitor may delete the group (tag kiln-expires). */
    expiresAt: string;
    /** The given subnet, or the staging network's subnet Kiln creates. */
    subnetId: string;
    /** False when the template gave a subnet. */
    createNetwork: boolean;
    vmName: string;
    vmId: string;
  };
  distributions: PlannedDistribution[];
  /** How each rollout target will be moved, and warnings about them (no health source): shown as the plan's message. */
  rolloutNotes?: string[];
  /** What preflight could not check (permissions ARM would not list): shown as the plan's message, never as passed. */
  preflightNotes?: string[];
  /** Polling bounds from the settings (KILN_POLL_MIN_MS / KILN_POLL_MAX_MS / KILN_POLL_QUICK_MS; the last absent in older plans). */
  poll: { minMs: number; maxMs: number; quickMs?: number };
  /** How long the build VM create waits for quota to free up (KILN_QUOTA_WAIT_MINUTES); absent in older plans: 60 min. */
  quotaWaitMs?: number;
}

export type PlannedDistribution =
  | {
      type: 'SharedImage';
      /** Index in spec.distributions. */
      index: number;
      runOutputName: string;
      galleryImageId: string;
      version: string;
      imageVersionId: string;
      regions: ReplicaRegion[];
      /** The template's final wish; the version is created with excludeFromLatest=true until promote. */
      excludeFromLatest: boolean;
    }
  | { type: 'ManagedImage'; index: number; runOutputName: string; imageId: string; location: string }
  | { type: 'VHD'; index: number; runOutputName: string; uri: string };

// ---- 3 stage --------------------------------------------------------------------------------------------------

/** createStagingGroup: create-or-update the tagged, expiring staging group (fast, synchronous in ARM). */
export interface CreateStagingGroupInput {
  plan: BakePlan;
  templateName: string;
}
export type CreateStagingGroupOutput = OperationStatus;

/** beginStagingNetwork: VNet + subnet (+ NSG) in the staging group; only called when plan.staging.createNetwork. */
export interface BeginStagingNetworkInput {
  plan: BakePlan;
}

/** beginStagingVm: NIC + VM from spec.source with spec.vmProfile, no public IP. */
export interface BeginStagingVmInput {
  plan: BakePlan;
  spec: BakeSpec;
}

// ---- 4 customize / 5 validate ---------------------------------------------------------------------------------

/**
 * beginCustomizer: run one customizer (phase 'customize', spec.customizers[index]) or one in-VM validation
 * (phase 'validate', spec.validation.inVMValidations[index]) as a managed Run Command named deterministically
 * from phase and index (WindowsRestart: a restart operation). Its stdout/stderr go to the run's log
 * `{runId}/logs/{phase}.log` (masked). pollOperation ends Failed with code `ScriptFailed`, exitCode and lastLines
 * when the script exits non-zero.
 */
export interface BeginCustomizerInput {
  plan: BakePlan;
  spec: BakeSpec;
  phase: 'customize' | 'validate';
  index: number;
  /** The step's time (its template `timeout`, else what is left of buildTimeoutInMinutes), decided by the bake. */
  limitMs: number;
}

// ---- 6 generalize ---------------------------------------------------------------------------------------------

/**
 * beginDeprovision: start the OS's deprovision DETACHED (waagent -force -deprovision+user plus machine-id and
 * cloud-init cleanup, then shutdown; Windows: sysprep /generalize /oobe /shutdown) and return at once; the
 * returned operation polls the VM's power state until it is stopped.
 */
export interface BeginDeprovisionInput {
  plan: BakePlan;
}

/** beginDeallocate: deallocate the staging VM ("already deallocated" is Succeeded). */
export interface BeginDeallocateInput {
  plan: BakePlan;
}

/** generalizeVm: mark the VM generalized (synchronous in ARM; "already generalized" is Succeeded). */
export interface GeneralizeVmInput {
  plan: BakePlan;
}
export type GeneralizeVmOutput = OperationStatus;

// ---- 7 capture ------------------------------------------------------------------------------------------------

/**
 * beginCapture: create plan.distributions[distribution] from the generalized VM. A SharedImage version is created
 * in the source region only, with excludeFromLatest=true; replicate adds the other regions.
 */
export interface BeginCaptureInput {
  plan: BakePlan;
  spec: BakeSpec;
  /** Index into plan.distributions. */
  distribution: number;
}

// ---- 8 replicate ----------------------------------------------------------------------------------------------

/** beginReplication: set the version's target regions to the planned ones (one update starts every region). */
export interface BeginReplicationInput {
  imageVersionId: string;
  regions: ReplicaRegion[];
}

/** readReplication: the version's per-region replication status (GET with $expand=ReplicationStatus). */
export interface ReadReplicationInput {
  imageVersionId: string;
  region: string;
  /** Keep reading for up to this long (quick looks) while the region replicates: its estimated end is near. */
  watchMs?: number;
}
export type ReadReplicationOutput = Outcome<{
  state: 'Unknown' | 'Replicating' | 'Completed' | 'Failed';
  percent: number;
  details?: string;
}>;

// ---- 9 promote ------------------------------------------------------------------------------------------------

/** beginPromote: set the version's excludeFromLatest to the template's wish (false unless the template said true). */
export interface BeginPromoteInput {
  imageVersionId: string;
  excludeFromLatest: boolean;
}

// ---- 11 rollout -----------------------------------------------------------------------------------------------

/** readScaleSet: the scale set's model (image, orchestration mode, upgrade policy, health source) and its members. */
export interface ReadScaleSetInput {
  scaleSetId: string;
}
export type { ScaleSetImage, OrchestrationMode, UpgradeMode, HealthSource } from '../azure/scaleSets.ts';
export type ReadScaleSetOutput = Outcome<{
  /** The model's image before the rollout (marketplace, managed image, gallery version or definition). */
  image: ScaleSetImage;
  /** With a definition reference: the version most instances run (what a rollback pins the model to). */
  exactVersion?: string;
  orchestrationMode: OrchestrationMode;
  upgradeMode: UpgradeMode;
  automaticOSUpgrade: boolean;
  healthSource: HealthSource;
  /** Azure's rolling batch size in percent (Rolling policy and automatic OS upgrades). */
  rollingBatchPercent: number;
  instances: MemberState[];
}>;

/** beginScaleSetModel: point the model at `image`, and set the upgrade policy mode when `upgradeMode` is given. */
export interface BeginScaleSetModelInput {
  scaleSetId: string;
  image: ScaleSetImage;
  upgradeMode?: UpgradeMode;
}

/** beginInstanceUpgrade: bring these members to the latest model (manualUpgrade); those already on `image` are skipped. */
export interface BeginInstanceUpgradeInput {
  scaleSetId: string;
  instanceIds: string[];
  image: ScaleSetImage;
}

/** readInstances: every member now (autoscale may have moved the set), its health and whether it runs `image`. */
export interface ReadInstancesInput {
  scaleSetId: string;
  orchestrationMode: OrchestrationMode;
  image: ScaleSetImage;
}
export type InstanceHealth = 'Healthy' | 'Unhealthy' | 'Initializing' | 'Unknown';
export interface MemberState {
  instanceId: string;
  health: InstanceHealth;
  /** Runs the image asked about (readScaleSet: the model's image). */
  onImage: boolean;
  /** protectFromScaleSetActions: reported, never upgraded by Kiln. */
  protected: boolean;
}
export type ReadInstancesOutput = Outcome<MemberState[]>;

/** readRollingUpgrade: Azure's latest rolling upgrade of the scale set (null when it never had one). */
export interface ScaleSetInput {
  scaleSetId: string;
}
export type { RollingUpgradeState } from '../azure/scaleSets.ts';
export type ReadRollingUpgradeOutput = Outcome<RollingUpgradeState | null>;

// ---- finally: cleanup -----------------------------------------------------------------------------------------

/**
 * beginDeleteStagingGroup: delete the staging group (or, when the template gave the group, the resources Kiln made
 * in it). Succeeded when it is already gone; pollOperation reports Succeeded only once a GET answers 404.
 */
export interface BeginDeleteStagingGroupInput {
  plan: BakePlan;
}

// ---- polling --------------------------------------------------------------------------------------------------

/** pollOperation: one look at a started operation. */
export type PollOperationInput = OperationRef;
export type PollOperationOutput = OperationStatus;

/** watchOperation: looks at a started operation quickly for up to `forMs` (within the quick-look window). */
export interface WatchOperationInput {
  operation: OperationRef;
  forMs: number;
  /**
   * Looks paced by the operation's age: `fraction` of the time since `from` (ISO, when it began) between looks, above
   * the quick floor. Absent: the quick looks' own rule, counted from the watch's start (dense across an estimated end).
   */
  paced?: { from: string; fraction: number };
}

// ---- cancel ---------------------------------------------------------------------------------------------------

/** forwardCancel: raise `cancel` on these sub-orchestration instances (those still running). Output: void. */
export interface ForwardCancelInput {
  instanceIds: string[];
}

/** wakeLockWaiter: raise BakeEvent.lockReleased on the bake first in an image lock's queue. Output: void. */
export interface WakeLockWaiterInput {
  runId: string;
}

/** wakeQuotaWaiters: raise BakeEvent.quotaFreed on bakes waiting for vCPU quota. Output: the run ids no longer running. */
export interface WakeQuotaWaitersInput {
  runIds: string[];
}

// ---- after the end ----------------------------------------------------------------------------------------------

/** notifyCompletion: hand the final record to the template's webhooks without waiting for them. Output: void. */
export interface NotifyCompletionInput {
  record: RunRecord;
}

