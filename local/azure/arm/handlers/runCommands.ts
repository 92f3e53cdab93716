/**
 * Run commands on a VM: the managed API (createOrUpdate LRO, get with instanceView, list, delete) and the action
 * runCommand. Scripts run in the VM's guest; a foreground deprovision never reports back, as on Azure.
 */
import { randomUUID } from 'node:crypto';
import { AnonymousCredential, AppendBlobClient } from '@azure/storage-blob';
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedAction, acceptedWrite, type EffectResult, type Operation } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { arrayAt, bodyObject, isObject, objectAt, requiredLocation, stringAt, tagsOf, validateName, type Json } from '../validate.ts';
import type { OperationKind } from '../../latency.ts';
import type { RunScriptOptions, RunScriptResult } from '../../sandbox-types.ts';
import { VM_BASE, VM_TYPE, vmState } from './virtualMachines.ts';

const RC_TYPE = 'Microsoft.Compute/virtualMachines/runCommands';
const RC_PUT = 'virtualMachineRunCommands.createOrUpdate';
const OUTPUT_LIMIT = 4096;
/** Azure's cap on a run (90 minutes). */
const DEFAULT_TIMEOUT_SEC = 5400;
const EFFECT_START = 'runCommand.start';
const EFFECT_REPORT = 'runCommand.report';
const EFFECT_AGENT_GONE = 'runCommand.agentGone';
const EFFECT_DELETE = 'runCommand.delete';
const EFFECT_GUEST_STOPPED = 'vm.guestStopped';
const EFFECT_GUEST_RESTARTED = 'vm.guestRestarted';
const EFFECT_GUEST_DEPROVISIONED = 'vm.guestDeprovisioned';

/** Parameters wait here for their run (by operation id), in memory only: protected values must never reach the store. */
export type PendingParameters = Map<string, Record<string, string>>;

type ExecutionState = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'TimedOut' | 'Canceled';

/**
 * The marker of a script the emulator did not run, in the instance view's `statuses` (Azure's InstanceViewStatus
 * shape): clients read it instead of parsing executionMessage. docs/emulator-guests.md documents it.
 */
export const NOT_RUN_STATUS_CODE = 'ScriptExecution/simulated';

interface RunView {
  executionState: ExecutionState;
  statuses?: { code: string; level: 'Info' | 'Warning' | 'Error'; displayStatus: string; message: string }[];
  executionMessage?: string;
  exitCode?: number;
  output?: string;
  error?: string;
  startTime?: string;
  endTime?: string;
}

const tail = (text: string): string => (Buffer.byteLength(text) > OUTPUT_LIMIT ? Buffer.from(text).subarray(-OUTPUT_LIMIT).toString('utf8') : text);

/** `[{name, value}]` → environment variables; names must be valid shell identifiers. */
function envFrom(list: unknown[] | undefined, field: string): Record<string, string> {
  const env: Record<string, string> = {};
  (list ?? []).forEach((entry, i) => {
    if (!isObject(entry) || typeof entry.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry.name)) {
      throw errors.invalidParameter(`${field}[${i}].name`, `${field}[${i}] must be {name, value} with a name made of letters, digits and underscores, found ${JSON.stringify(entry).slice(0, 80)}.`);
    }
    env[entry.name] = entry.value === undefined || entry.value === null ? '' : String(entry.value);
  });
  return env;
}

async function appendBlob(sasUrl: string, text: string | Buffer): Promise<void> {
  const blob = new AppendBlobClient(sasUrl, new AnonymousCredential());
  await blob.createIfNotExists();
  // An append block holds at most 4 MiB.
  const data = Buffer.from(text);
  for (let offset = 0; offset < data.length; offset += 4 * 1024 * 1024) {
    const chunk = data.subarray(offset, offset + 4 * 1024 * 1024);
    await blob.appendBlock(chunk, chunk.length);
  }
}

/**
 * The agent's side of the output blobs: each piece of output is appended in order as the script writes it, and at
 * the end only what was not appended yet. A failed append is reported at the end, where the run's result is made.
 */
function outputBlobs(blobs: { output?: string; error?: string }, appended = { stdout: 0, stderr: 0 }) {
  // Counted when queued, so the final rest starts after every piece already on its way.
  const queued = { ...appended };
  let queue: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const uriOf = (stream: 'stdout' | 'stderr') => (stream === 'stdout' ? blobs.output : blobs.error);
  const append = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
    const uri = uriOf(stream);
    if (!uri || chunk.length === 0) return;
    queued[stream] += chunk.length;
    queue = queue.then(async () => {
      if (failure) return;
      await appendBlob(uri, chunk).catch((error: Error) => {
        failure = error;
      });
    });
  };
  return {
    onOutput: append,
    /** Appends the rest of the final output; throws when any append failed. */
    async finish(result: RunScriptResult): Promise<void> {
      append('stdout', Buffer.from(result.stdout).subarray(queued.stdout));
      append('stderr', Buffer.from(result.stderr).subarray(queued.stderr));
      await queue;
      if (failure) throw failure;
    },
  };
}

/** How much of a run's output an earlier emulator process already appended to a blob (0 without one). */
async function appendedBytes(sasUrl: string | undefined): Promise<number> {
  if (!sasUrl) return 0;
  const properties = await new AppendBlobClient(sasUrl, new AnonymousCredential()).getProperties().catch(() => undefined);
  return properties?.contentLength ?? 0;
}

const vmIdOf = (p: Record<string, string>): string => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'virtualMachines', p.vm!);

/** The VM a run command may use: it exists, runs, and no other run command is in flight on it. */
function runnableVm(ctx: HandlerContext, req: ArmRequest, selfId?: string): StoredResource {
  const vm = ctx.resources.require(req.params.sub!, req.params.rg!, vmIdOf(req.params), VM_TYPE, req.params.vm!);
  const state = vmState(vm);
  if (state.power !== 'running' || !state.disk) {
    throw errors.operationNotAllowed(`Cannot run a command on VM '${vm.name}': the operation requires the VM to be running (it is ${state.power}).`);
  }
  const busy = ctx.ops.running(vm.id).filter((op) => op.operation.startsWith('virtualMachine') && /runcommand/i.test(op.operation) && op.resourceId.toLowerCase() !== selfId?.toLowerCase());
  if (busy.length > 0) throw errors.conflict(`Run command extension execution is in progress on VM '${vm.name}'. Please wait for completion before invoking a run command.`);
  return vm;
}

/** Starts what a guest does on its own after the run: `effect` applies after `kind`'s latency. */
function guestEvent(ctx: HandlerContext, vm: StoredResource, operation: string, kind: OperationKind, effect: string): void {
  ctx.ops.start({
    subscriptionId: ctx.subscriptionId, location: vm.location!, apiVersion: '2026-04-01', style: 'compute', resourceId: `${vm.id}/guest`, operation,
    steps: [stepAfter(ctx, kind, { kind: effect, args: { id: vm.id } })],
  });
}

/**
 * Windows guests cannot run here: the script is not run and the result says so. The stand-in (windows-ctx.guest.ts)
 * prints its top-level `Write-Output` lines (with the guest's boot time, so a restart can be seen), applies a
 * scripted exit code and the update loop; a script that starts sysprep or a shutdown in the background
 * (Start-Process) stops the VM after sysprep's time, as the detached pattern does on Azure, and one that starts a
 * restart that way boots the guest again (a newer boot time, the VM stays running).
 */
function simulateWindows(ctx: HandlerContext, vm: StoredResource, script: string): RunScriptResult {
  const detachedStop = /Start-Process/i.test(script) && /Sysprep\.exe|Stop-Computer|shutdown(\.exe)?\s+\/s/i.test(script);
  // The stored VM, not the request's copy: a restart may have applied since the run was asked for.
  const current = ctx.resources.find(vm.id) ?? vm;
  const run = ctx.windowsGuests.run(vm.id, script, new Date(vmState(current).bootTime ?? String(current.properties.timeCreated)));
  const detachedRestart = !detachedStop && run.restart;
  if (detachedStop) guestEvent(ctx, vm, 'ctx.guest.shutdown', 'guestSysprepWindows', EFFECT_GUEST_STOPPED);
  if (detachedRestart) guestEvent(ctx, vm, 'ctx.guest.restart', 'vmRestart', EFFECT_GUEST_RESTARTED);
  return { isolated: false, exitCode: run.exitCode, stdout: run.stdout, stderr: '', timedOut: false, agentRemoved: false, message: 'Windows guests are not emulated; the PowerShell script was recorded, not run' };
}

/** A detached shutdown (or sysprep) the guest started has stopped the VM. */
function guestStopped(ctx: HandlerContext, args: Json): void {
  const vm = ctx.resources.find(String(args.id));
  if (!vm || vmState(vm).power !== 'running') return;
  vmState(vm).power = 'stopped';
  ctx.resources.save(vm);
}

/** A detached restart the guest started has booted it again. */
function guestRestarted(ctx: HandlerContext, args: Json): void {
  const vm = ctx.resources.find(String(args.id));
  if (!vm || vmState(vm).power !== 'running') return;
  vmState(vm).bootTime = new Date().toISOString();
  ctx.resources.save(vm);
}

/**
 * A Linux script that was not run (no isolation) but starts a deprovision or a shutdown detached: as the Windows
 * simulation does, the emulator applies its effects from the host (the agent's deprovision on the disk, nothing
 * executed) and stops the VM, so the detached-generalize pattern still ends.
 */
function simulateDetachedLinux(ctx: HandlerContext, vm: StoredResource, script: string, result: RunScriptResult): RunScriptResult {
  const detached = /\bnohup\b|\bsetsid\b|[^&]&\s*$/m.test(script);
  const deprovision = /\bwaagent\b[^\n]*-deprovision/.test(script);
  if (result.isolated || !detached || !(deprovision || /\b(shutdown|poweroff|halt)\b/.test(script))) return result;
  guestEvent(ctx, vm, 'ctx.guest.shutdown', deprovision ? 'guestDeprovisionLinux' : 'guestShutdownToStopped', deprovision ? EFFECT_GUEST_DEPROVISIONED : EFFECT_GUEST_STOPPED);
  const effect = deprovision ? 'Its detached deprovision is applied to the disk from the host instead, and the VM stops.' : 'Its detached shutdown stops the VM.';
  return { ...result, message: `${result.message ?? 'Script not run.'} ${effect}` };
}

/** A detached deprovision, applied from the host, has stopped the VM. */
async function guestDeprovisioned(ctx: HandlerContext, args: Json): Promise<void> {
  const vm = ctx.resources.find(String(args.id));
  const disk = vm ? vmState(vm).disk : undefined;
  if (!vm || vmState(vm).power !== 'running' || !disk) return;
  await ctx.guest.deprovisionFromHost(disk);
  // Read again after the disk work: a power action meanwhile (a deallocate) decides the power state instead.
  const current = ctx.resources.find(vm.id);
  if (!current || vmState(current).power !== 'running' || vmState(current).disk !== disk) return;
  vmState(current).power = 'stopped';
  ctx.resources.save(current);
}

/** A VM whose agent is gone (a foreground deprovision): no run on it reports again. */
function markAgentRemoved(ctx: HandlerContext, vmId: string): void {
  const fresh = ctx.resources.find(vmId);
  if (!fresh) return;
  vmState(fresh).agentRemoved = true;
  ctx.resources.save(fresh);
}

/**
 * A Linux script the guest runs on its own, so it outlives the emulator; `onStarted` keeps the run's id where a
 * restarted emulator finds it (resumeRuns). The run's files go once `onDone` has kept the result.
 */
async function runInGuest(ctx: HandlerContext, disk: string, script: string, env: Record<string, string>, timeoutSec: number, onOutput: RunScriptOptions['onOutput'], onStarted: (runId: string) => void, onDone: (result: RunScriptResult) => Promise<void>): Promise<void> {
  const runId = randomUUID();
  // Kept before the guest starts it: a restarted emulator then knows of every run the guest may have taken on.
  onStarted(runId);
  await ctx.guest.startScript(disk, script, env, timeoutSec, runId);
  const result = await ctx.guest.waitScript(disk, runId, onOutput);
  await onDone(result);
  await ctx.guest.releaseScript(disk, runId);
}

function launch(ctx: HandlerContext, op: Operation, vm: StoredResource, script: string, env: Record<string, string>, timeoutSec: number, onOutput: RunScriptOptions['onOutput'], onDone: (result: RunScriptResult) => Promise<void>, onStarted: (runId: string) => void = () => undefined): void {
  const started = Date.now();
  const disk = vmState(vm).disk!;
  // The run a managed command's PUT started (none for the runCommand action): its timeout must not land on a newer run.
  const putId = ctx.resources.find(op.resourceId)?.state.putId;
  const afterRun = async (result: RunScriptResult) => {
    if (!result.agentRemoved) return onDone(result);
    markAgentRemoved(ctx, vm.id);
    ctx.ops.resolveExternal(op.id, [{ at: started + timeoutSec * 1000, effect: { kind: EFFECT_AGENT_GONE, args: { id: op.resourceId, timeoutSec, putId } } }]);
  };
  const run = vmState(vm).osType === 'Windows'
    ? afterRun(simulateWindows(ctx, vm, script))
    : ctx.guest.isolation.isolated
      ? runInGuest(ctx, disk, script, env, timeoutSec, onOutput, onStarted, afterRun)
      : ctx.guest.runScript(disk, script, env, timeoutSec, onOutput).then((result) => afterRun(simulateDetachedLinux(ctx, vm, script, result)));
  run
    .catch((error: unknown) => {
      // A run cut short by the emulator stopping (its guest stopped with it) is no failure: nothing of it reports.
      if (ctx.ops.closed) return;
      ctx.ops.finish(op, { error: errors.internalExecutionError('running the run command', (error as Error).message) });
    });
}

async function viewFrom(result: RunScriptResult, startTime: string, blobs: ReturnType<typeof outputBlobs>): Promise<RunView> {
  const view: RunView = { executionState: 'Succeeded', startTime, endTime: new Date().toISOString(), output: tail(result.stdout), error: tail(result.stderr) };
  if (!result.isolated) {
    // Not run, so no exit code of its own: only a stand-in's scripted one (a Windows guest test) is reported.
    const why = result.message ?? 'Script not run: this machine cannot isolate a ctx.guest.';
    view.executionMessage = `Simulated: the script was not run (${why}).`;
    view.statuses = [{ code: NOT_RUN_STATUS_CODE, level: 'Warning', displayStatus: 'Script not run', message: why }];
    if (result.exitCode !== null) {
      view.exitCode = result.exitCode;
      view.executionState = result.exitCode === 0 ? 'Succeeded' : 'Failed';
    }
  } else if (result.timedOut) {
    view.executionState = 'TimedOut';
    view.executionMessage = result.message ?? 'Execution timed out.';
  } else {
    view.exitCode = result.exitCode ?? -1;
    view.executionState = result.exitCode === 0 ? 'Succeeded' : 'Failed';
    view.executionMessage = result.exitCode === 0 ? 'Execution completed' : `Execution completed with exit code ${String(result.exitCode)}${result.message ? `: ${result.message}` : ''}`;
  }
  try {
    await blobs.finish(result);
  } catch (error) {
    view.executionState = 'Failed';
    view.executionMessage = `Uploading the output to the blob failed: ${(error as Error).message}`;
  }
  return view;
}

/** A managed run's script starts in the guest, with the parameters its PUT left in memory. */
function startRun(ctx: HandlerContext, pendingEnv: PendingParameters, args: Json, op: Operation): EffectResult {
  const rc = ctx.resources.find(String(args.id));
  const vm = ctx.resources.find(String(args.vmId));
  // A run without parameters needs nothing from memory: it starts after an emulator restart as on Azure.
  const env = pendingEnv.get(op.id) ?? (args.parameterCount === 0 ? {} : undefined);
  pendingEnv.delete(op.id);
  if (!rc || !vm || !vmState(vm).disk) return { fail: errors.goneBeforeScript() };
  if (superseded(rc, args.putId)) return { fail: errors.operationPreempted(RC_PUT) };
  if (!env) {
    const failure = errors.parametersLostInRestart();
    rc.state.view = { executionState: 'Failed', executionMessage: failure.message, endTime: new Date().toISOString() } satisfies RunView;
    rc.properties.provisioningState = 'Failed';
    ctx.resources.save(rc);
    return { fail: failure };
  }
  const view = rc.state.view as RunView;
  view.executionState = 'Running';
  view.startTime = new Date().toISOString();
  const timeoutSec = Number(rc.properties.timeoutInSeconds ?? 0) || DEFAULT_TIMEOUT_SEC;
  const blobs = outputBlobs({ output: stringAt(rc.properties, 'outputBlobUri'), error: stringAt(rc.properties, 'errorBlobUri') });
  if (args.timeoutFault) {
    // Injected: the run reaches its timeout without the script being run.
    return { addSteps: [{ at: Date.now(), effect: { kind: EFFECT_REPORT, args: { id: rc.id, putId: args.putId, view: { ...view, executionState: 'TimedOut', executionMessage: String(args.timeoutFault), endTime: new Date().toISOString() } } } }] };
  }
  const asyncExecution = rc.properties.asyncExecution === true;
  // With asyncExecution the PUT is done once the script is launched.
  if (asyncExecution) rc.properties.provisioningState = 'Succeeded';
  ctx.resources.save(rc);
  if (!asyncExecution) ctx.ops.hold(op.id);
  launch(ctx, op, vm, String(args.script), env, timeoutSec, blobs.onOutput, async (result) => {
    const finished = await viewFrom(result, view.startTime!, blobs);
    // With asyncExecution the operation ended when the script started; the run itself still reports, and its
    // run time is real work on the timeline (the caller waits for it), seen when a GET returns the end.
    if (asyncExecution) {
      ctx.ops.noteUntilSeen(rc.id, { operation: 'guest.script', resourceId: `${vm.id}/guest`, status: finished.executionState === 'Succeeded' ? 'Succeeded' : 'Failed', startedAt: Date.parse(view.startTime!), dueAt: Date.parse(finished.endTime ?? new Date().toISOString()) });
      applyReport(ctx, rc.id, finished, args.putId);
    }
    else ctx.ops.resolveExternal(op.id, [stepAfter(ctx, 'runCommandManagedReport', { kind: EFFECT_REPORT, args: { id: rc.id, putId: args.putId, view: finished as unknown as Json } })]);
  }, (runId) => {
    const fresh = ctx.resources.find(rc.id);
    if (!fresh || superseded(fresh, args.putId)) return;
    fresh.state.guestRun = { disk: vmState(vm).disk!, runId, parameterCount: Object.keys(env).length };
    ctx.resources.save(fresh);
  });
  return undefined;
}

/**
 * Runs an earlier emulator process started and did not see end (it was killed): their guests ran on, so each
 * reports its real result once its script ends, as the Run Command would have on Azure.
 */
export function resumeRuns(ctx: HandlerContext): void {
  for (const rc of ctx.resources.store.list<StoredResource>('resource').filter((r) => r.type === RC_TYPE)) {
    const view = rc.state.view as RunView | undefined;
    const run = rc.state.guestRun as { disk: string; runId: string; parameterCount: number } | undefined;
    if (view?.executionState !== 'Running' || !run || rc.properties.asyncExecution !== true) continue;
    const uris = { output: stringAt(rc.properties, 'outputBlobUri'), error: stringAt(rc.properties, 'errorBlobUri') };
    const timeoutSec = Number(rc.properties.timeoutInSeconds ?? 0) || DEFAULT_TIMEOUT_SEC;
    const script = String((rc.properties.source as { script?: unknown } | undefined)?.script ?? '');
    void (async () => {
      // Killed between keeping the run and the guest taking it: start it now, unless it needed parameters (memory only).
      if (!(await ctx.guest.scriptStarted(run.disk, run.runId))) {
        if (run.parameterCount > 0) throw new Error('the emulator restarted before the script started, and its parameters are kept in memory only');
        await ctx.guest.startScript(run.disk, script, {}, timeoutSec, run.runId);
      }
      // Output the earlier process appended already is not appended twice.
      const blobs = outputBlobs(uris, { stdout: await appendedBytes(uris.output), stderr: await appendedBytes(uris.error) });
      return { result: await ctx.guest.waitScript(run.disk, run.runId, blobs.onOutput), blobs };
    })()
      .then(async ({ result, blobs }) => {
        const vmId = rc.id.slice(0, rc.id.toLowerCase().lastIndexOf('/runcommands/'));
        if (result.agentRemoved) return markAgentRemoved(ctx, vmId);
        applyReport(ctx, rc.id, await viewFrom(result, view.startTime ?? new Date().toISOString(), blobs), rc.state.putId);
        await ctx.guest.releaseScript(run.disk, run.runId);
      })
      .catch((error: unknown) => ctx.ops.closed ? undefined : applyReport(ctx, rc.id, { ...view, executionState: 'Failed', executionMessage: `The run's result could not be read after the emulator restarted: ${(error as Error).message}`, endTime: new Date().toISOString() }, rc.state.putId));
  }
}

/**
 * Whether a newer PUT of the run command started another run since the one `putId` names (absent in what an older
 * emulator stored): the older run's start and report then leave the newer run's state alone.
 */
const superseded = (rc: StoredResource, putId: unknown): boolean => putId !== undefined && rc.state.putId !== putId;

/**
 * Records a finished run of the PUT `putId`, read from the store as it is now; with treatFailureAsDeploymentFailure a
 * failed script fails the operation. The report of a run a newer PUT superseded is dropped: its operation is preempted.
 */
function applyReport(ctx: HandlerContext, id: string, view: RunView, putId: unknown): EffectResult {
  const rc = ctx.resources.find(id);
  if (!rc) return undefined;
  if (superseded(rc, putId)) return { fail: errors.operationPreempted(RC_PUT) };
  rc.state.view = view;
  const failed = view.executionState !== 'Succeeded' && rc.properties.treatFailureAsDeploymentFailure === true;
  rc.properties.provisioningState = failed ? 'Failed' : 'Succeeded';
  ctx.resources.save(rc);
  if (!failed) return undefined;
  const exit = view.exitCode !== undefined ? ` with exit code ${view.exitCode}` : '';
  return { fail: { code: 'VMExtensionProvisioningError', message: `Run command '${rc.name}' ended ${view.executionState}${exit}. ${view.executionMessage ?? ''} ${(view.error ?? '').slice(-500)}`.trim() } };
}

/** A run whose guest lost its agent times out: it never reports, as on Azure. */
function agentGone(ctx: HandlerContext, args: Json): EffectResult {
  const rc = ctx.resources.find(String(args.id));
  const message = `The run command did not report within ${String(args.timeoutSec)} seconds: the VM agent stopped responding.`;
  if (rc && !superseded(rc, args.putId)) {
    rc.state.view = { ...(rc.state.view as RunView), executionState: 'TimedOut', executionMessage: message, endTime: new Date().toISOString() };
    rc.properties.provisioningState = 'Failed';
    ctx.resources.save(rc);
  }
  return { fail: { code: 'VMAgentStatusCommunicationError', message } };
}

// ---- managed run commands ----

const rcId = (p: Record<string, string>): string => `${vmIdOf(p)}/runCommands/${p.name}`;

function presentRc(rc: StoredResource, expand: boolean): Json {
  const properties: Json = { ...rc.properties };
  if (expand) {
    const view = rc.state.view as RunView;
    properties.instanceView = { ...view, statuses: view.statuses ?? [] };
  }
  return present(rc, properties);
}

export function createOrUpdateRunCommand(ctx: HandlerContext, req: ArmRequest, pendingEnv: PendingParameters): ArmResponse {
  const name = req.params.name!;
  validateName('runCommand', name);
  const body = bodyObject(req.body);
  const location = requiredLocation(body);
  const properties = objectAt(body, 'properties') ?? {};
  const source = objectAt(properties, 'source', 'properties.source');
  const script = source ? stringAt(source, 'script', 'properties.source.script') : undefined;
  const chosen = source ? ['script', 'scriptUri', 'commandId', 'galleryScriptReferenceId'].filter((k) => source[k] !== undefined) : [];
  if (chosen.length !== 1) throw errors.invalidParameter('properties.source', `Exactly one of source.script, source.scriptUri, source.commandId and source.galleryScriptReferenceId is required, found ${chosen.length === 0 ? 'none' : chosen.join(', ')}.`);
  if (script === undefined) throw errors.invalidParameter('properties.source', `The emulator runs inline scripts only: source.${chosen[0]} is not supported, use source.script.`);
  const timeout = properties.timeoutInSeconds;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0 || timeout > DEFAULT_TIMEOUT_SEC)) {
    throw errors.invalidParameter('properties.timeoutInSeconds', `timeoutInSeconds must be an integer from 0 to ${DEFAULT_TIMEOUT_SEC}, found ${JSON.stringify(timeout)}.`);
  }
  const env = { ...envFrom(arrayAt(properties, 'parameters', 'properties.parameters'), 'parameters'), ...envFrom(arrayAt(properties, 'protectedParameters', 'properties.protectedParameters'), 'protectedParameters') };
  const id = rcId(req.params);
  const vm = runnableVm(ctx, req, id);
  const existing = ctx.resources.find(id);
  const stored: Json = { ...properties, provisioningState: 'Creating' };
  // Secrets are used, never kept or echoed.
  delete stored.protectedParameters;
  delete stored.runAsPassword;
  const rc = existing ?? ctx.resources.create({ id, name, type: RC_TYPE, resourceGroup: req.params.rg!, location, properties: {} });
  rc.location = location;
  rc.tags = tagsOf(body);
  rc.properties = stored;
  // Each PUT starts a run of its own: an earlier run still going reports into nothing (superseded).
  const putId = randomUUID();
  rc.state = { view: { executionState: 'Pending' } satisfies RunView, putId };
  ctx.resources.save(rc);
  const timeoutFault = ctx.takeFault(req, 'runCommandTimeout')?.message;
  const op = beginOperation(ctx, req, {
    resourceId: id, location: vm.location!, style: 'compute', markFailedOnFault: true,
    steps: [stepAfter(ctx, 'runCommandManagedStart', { kind: EFFECT_START, args: { id, vmId: vm.id, putId, script, timeoutFault, parameterCount: Object.keys(env).length } })],
  });
  pendingEnv.set(op.id, env);
  return acceptedWrite(req.origin, op, !existing, presentRc(rc, false));
}

export function runCommandOnVirtualMachine(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const body = bodyObject(req.body);
  const commandId = stringAt(body, 'commandId');
  if (commandId !== 'RunShellScript' && commandId !== 'RunPowerShellScript') {
    throw errors.invalidParameter('commandId', `commandId must be RunShellScript or RunPowerShellScript, found ${JSON.stringify(commandId)}.`);
  }
  const lines = arrayAt(body, 'script') ?? [];
  if (!lines.every((l) => typeof l === 'string')) throw errors.invalidParameter('script', 'script must be a list of lines (strings).');
  const env = envFrom(arrayAt(body, 'parameters'), 'parameters');
  const vm = runnableVm(ctx, req);
  const windows = vmState(vm).osType === 'Windows';
  const timeoutFault = ctx.takeFault(req, 'runCommandTimeout')?.message;
  const op = beginOperation(ctx, req, { resourceId: `${vm.id}/runCommand`, location: vm.location!, style: 'compute', steps: [], external: true });
  const output = (stdout: string, stderr: string, state: string) => ({
    value: windows
      ? [
          { code: `ComponentStatus/StdOut/${state}`, level: 'Info', displayStatus: `Provisioning ${state}`, message: tail(stdout) },
          { code: `ComponentStatus/StdErr/${state}`, level: 'Info', displayStatus: `Provisioning ${state}`, message: tail(stderr) },
        ]
      : [{ code: `ProvisioningState/${state}`, level: 'Info', displayStatus: `Provisioning ${state}`, message: `Enable ${state}: \n[stdout]\n${tail(stdout)}\n[stderr]\n${tail(stderr)}` }],
  });
  const startAt = Date.now() + ctx.latency.durationMs('runCommandActionOverhead');
  if (timeoutFault) {
    ctx.ops.resolveExternal(op.id, [{ at: startAt, effect: { kind: 'lro.fail', args: { code: 'VMExtensionHandlerTimeout', message: timeoutFault } } }]);
  } else {
    // The overhead (agent pick-up) comes before the script, which then runs to its end.
    setTimeout(() => {
      launch(ctx, op, vm, (lines as string[]).join('\n'), env, DEFAULT_TIMEOUT_SEC, undefined, async (result) => {
        // Like Azure, a non-zero exit code still reports succeeded; the text says what happened.
        const note = result.isolated ? '' : `[simulated: the script was not run: ${result.message ?? 'no isolation'}]\n`;
        ctx.ops.finish(op, { output: output(note + result.stdout, result.stderr, result.timedOut ? 'failed' : 'succeeded') });
      });
    }, Math.max(0, startAt - Date.now())).unref();
  }
  return acceptedAction(req.origin, op);
}

export function getRunCommand(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const rc = ctx.resources.requireChild(req.params.sub!, req.params.rg!, rcId(req.params), `run command '${req.params.name}'`);
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview';
  if (expand && !['Pending', 'Running'].includes((rc.state.view as RunView | undefined)?.executionState ?? 'Pending')) ctx.ops.seen(rc.id);
  return { status: 200, body: presentRc(rc, expand) };
}

export function listRunCommands(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const vm = ctx.resources.require(req.params.sub!, req.params.rg!, vmIdOf(req.params), VM_TYPE, req.params.vm!);
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview';
  const value = ctx.resources.below(vm.id).filter((r) => r.type === RC_TYPE).map((rc) => presentRc(rc, expand));
  return { status: 200, body: { value, nextLink: null } };
}

export async function deleteRunCommand(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  ctx.resources.requireGroup(req.params.sub!, req.params.rg!);
  const rc = ctx.resources.find(rcId(req.params));
  if (!rc) return { status: 204 };
  // Deleting a running managed run command stops its script.
  const running = ctx.ops.running(rc.id);
  const vm = ctx.resources.find(vmIdOf(req.params));
  const disk = vm ? vmState(vm).disk : undefined;
  if (running.length > 0 && disk) await ctx.guest.stopGuest(disk);
  for (const op of running) ctx.ops.finish(op, { status: 'Canceled', error: errors.resourceDeleted(rc.id) });
  const op = beginOperation(ctx, req, { resourceId: rc.id, location: rc.location ?? 'eastus', style: 'compute', steps: [stepAfter(ctx, 'runCommandManagedReport', { kind: EFFECT_DELETE, args: { id: rc.id } })] });
  return acceptedAction(req.origin, op);
}

/** The effects run command operations apply when their time comes; `pendingEnv` is shared with createOrUpdate. */
export function registerRunCommandEffects(ctx: HandlerContext, pendingEnv: PendingParameters): void {
  ctx.ops.registerEffect(EFFECT_GUEST_STOPPED, (args) => guestStopped(ctx, args));
  ctx.ops.registerEffect(EFFECT_GUEST_RESTARTED, (args) => guestRestarted(ctx, args));
  ctx.ops.registerEffect(EFFECT_GUEST_DEPROVISIONED, (args) => guestDeprovisioned(ctx, args));
  ctx.ops.registerEffect(EFFECT_START, (args, op) => startRun(ctx, pendingEnv, args, op));
  ctx.ops.registerEffect(EFFECT_REPORT, (args) => applyReport(ctx, String(args.id), args.view as unknown as RunView, args.putId));
  ctx.ops.registerEffect(EFFECT_AGENT_GONE, (args) => agentGone(ctx, args));
  ctx.ops.registerEffect(EFFECT_DELETE, (args) => {
    ctx.resources.remove(String(args.id));
    ctx.ops.forget(String(args.id));
  });
}

/** The route table: each operation's function, given the context; runs an earlier emulator process left are resumed. */
export function runCommandRoutes(ctx: HandlerContext): Route[] {
  const pendingEnv: PendingParameters = new Map();
  registerRunCommandEffects(ctx, pendingEnv);
  resumeRuns(ctx);
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: `${VM_BASE}/runCommands/{name}`, operation: 'virtualMachineRunCommands.createOrUpdate', api: 'compute', handler: (req) => createOrUpdateRunCommand(ctx, req, pendingEnv) },
    { method: 'GET', pattern: `${VM_BASE}/runCommands/{name}`, operation: 'virtualMachineRunCommands.getByVirtualMachine', api: 'compute', handler: on(getRunCommand) },
    { method: 'DELETE', pattern: `${VM_BASE}/runCommands/{name}`, operation: 'virtualMachineRunCommands.delete', api: 'compute', handler: on(deleteRunCommand) },
    { method: 'GET', pattern: `${VM_BASE}/runCommands`, operation: 'virtualMachineRunCommands.listByVirtualMachine', api: 'compute', handler: on(listRunCommands) },
    { method: 'POST', pattern: `${VM_BASE}/runCommand`, operation: 'virtualMachines.runCommand', api: 'compute', handler: on(runCommandOnVirtualMachine) },
  ];
}
