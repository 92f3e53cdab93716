/** What every handler module is given: the store-backed resources, the operation engine and the emulator's parts. */
import type { DiskAccessStore } from '../disk-access-store.ts';
import type { FaultKind, FaultRequest, FiredFault } from '../faults.ts';
import type { Latency, OperationKind } from '../latency.ts';
import type { CoreLimits } from './catalogue/vm-sizes.ts';
import type { RunScriptOptions, RunScriptResult } from '../sandbox-types.ts';
import type { ArmRequest, ArmResponse } from './http.ts';
import type { Effect, MonitorStyle, Operation, OperationEngine, Step } from './lro.ts';
import type { MarketplaceCatalogue } from './handlers/marketplace.ts';
import type { Resources } from './resources.ts';
import type { WindowsGuests } from './windows-guest.ts';

/** Where a new OS disk's content comes from. */
export type DiskSource =
  | { kind: 'marketplace'; osType: 'Linux' | 'Windows'; image: string }
  | { kind: 'snapshot'; snapshot: string };

/** Who the provisioning agent sets up on a disk made from a generalized source (from osProfile). */
export interface Provisioning {
  computerName: string;
  adminUsername: string;
}

/**
 * The guest side the handlers need: OS disks (directories), snapshots of them, deprovisioning, and running scripts.
 * Disks and snapshots are named by opaque keys kept in resource state.
 */
export interface GuestPort {
  createDisk(source: DiskSource, provisioning: Provisioning | undefined): Promise<string>;
  deleteDisk(disk: string): Promise<void>;
  snapshot(disk: string): Promise<string>;
  deleteSnapshot(snapshot: string): Promise<void>;
  /** What `waagent -deprovision+user` removes: machine identity, SSH host keys, the provisioned admin user. */
  deprovision(disk: string): Promise<void>;
  /** The same effects applied to the disk from the host, nothing run: for guests that cannot run here. */
  deprovisionFromHost(disk: string): Promise<void>;
  /** A file as the guest sees it (undefined when absent): the health rule and test inspection read through this. */
  readFile(disk: string, path: string): Promise<Buffer | undefined>;
  writeFile(disk: string, path: string, content: string): Promise<void>;
  runScript(disk: string, script: string, env: Record<string, string>, timeoutSec: number, onOutput?: RunScriptOptions['onOutput']): Promise<RunScriptResult>;
  /** Starts a script the guest runs on its own (it outlives the emulator); the id finds its result later. */
  startScript(disk: string, script: string, env: Record<string, string>, timeoutSec: number, runId?: string): Promise<string>;
  /** Whether the guest took a run on (false: an emulator was killed before it reached the guest). */
  scriptStarted(disk: string, runId: string): Promise<boolean>;
  /** Waits for a started script (also one an earlier emulator process started) and returns its result. */
  waitScript(disk: string, runId: string, onOutput?: RunScriptOptions['onOutput']): Promise<RunScriptResult>;
  /** Forgets a run's script and output once its result is kept. */
  releaseScript(disk: string, runId: string): Promise<void>;
  stopGuest(disk: string): Promise<void>;
  /** Writes the disk's content as a fixed VHD to `out` (disk access); returns its size in bytes. */
  exportVhd(disk: string, out: string): Promise<number>;
  readonly isolation: { isolated: boolean; reason?: string };
}

export interface HandlerContext {
  subscriptionId: string;
  tenantId: string;
  resources: Resources;
  ops: OperationEngine;
  latency: Latency;
  /** Regional vCPU quota per family and in total (CORE_LIMITS unless raised, as after a quota increase request). */
  coreLimits: CoreLimits;
  guest: GuestPort;
  /** The stand-in for Windows guests, with what a test scripted (pending updates, exit codes). */
  windowsGuests: WindowsGuests;
  /** Where disk access publishes VHDs; undefined when the emulator runs without storage beside it. */
  diskAccess?: DiskAccessStore;
  /** Marketplace images: what a VM's publisher/offer/sku reference may name. */
  marketplace: MarketplaceCatalogue;
  /** Fires an injected fault of `kind` for this request, if a rule matches (e.g. lroFailed, runCommandTimeout). */
  takeFault(request: FaultRequest, kind: FaultKind): FiredFault | undefined;
}

/** One operation's function: what it needs is the context and the request, nothing captured. */
export type OperationHandler = (ctx: HandlerContext, req: ArmRequest) => Promise<ArmResponse> | ArmResponse;

/** Gives operation functions their context, for a route table. */
export const withContext = (ctx: HandlerContext) => (handler: OperationHandler) => (req: ArmRequest): Promise<ArmResponse> | ArmResponse => handler(ctx, req);

/** One step of `kind`'s latency after `from`. */
export function stepAfter(ctx: HandlerContext, kind: OperationKind, effect: Effect, from = Date.now()): Step {
  return { at: from + ctx.latency.durationMs(kind), effect };
}

export const FAIL_EFFECT = 'lro.fail';

/**
 * Starts a long-running operation for a request. An injected LRO failure replaces the operation's effects: it ends
 * Failed (with the resource marked Failed when it was being written) when it would otherwise have succeeded.
 */
export function beginOperation(
  ctx: HandlerContext,
  req: ArmRequest,
  init: { resourceId: string; location: string; style: MonitorStyle; steps: Step[]; external?: boolean; markFailedOnFault?: boolean },
): Operation {
  const fired = ctx.takeFault(req, 'lroFailed');
  const failure = fired ? { code: fired.code, message: fired.message } : undefined;
  const steps = failure
    ? [{ at: Math.max(Date.now(), ...init.steps.map((s) => s.at)), effect: { kind: FAIL_EFFECT, args: { ...failure, resourceId: init.markFailedOnFault ? init.resourceId : undefined } } }]
    : init.steps;
  return ctx.ops.start({
    subscriptionId: ctx.subscriptionId,
    location: init.location,
    apiVersion: req.apiVersion,
    style: init.style,
    resourceId: init.resourceId,
    operation: req.operation,
    steps,
    external: failure ? false : init.external,
  });
}
