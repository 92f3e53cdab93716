/**
 * Virtual machine scale sets: get, create/update the model, members in both orchestration modes (Uniform instances
 * with latestModelApplied, health and instance protection; Flexible members listed as VMs), the three upgrade
 * policies (Automatic upgrades on a model change, Rolling upgrades with their status API and thresholds, Manual),
 * automatic OS image upgrades when a newer gallery version becomes latest, reimage, and autoscale moving the set
 * while a rollout runs (the scaleIn/scaleOut faults). Instance disks are made from the model's image, so an
 * instance carries what was captured into it.
 */
import { randomUUID } from 'node:crypto';
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors, type OperationFailure } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedAction, acceptedWrite, type Operation, type Step } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, registerDeleteEffect } from '../release.ts';
import type { Route } from '../routes.ts';
import { arrayAt, bodyObject, isObject, objectAt, requiredLocation, tagsOf, validateName, type Json } from '../validate.ts';
import { resolveImage } from './imageSources.ts';

const VMSS_TYPE = 'Microsoft.Compute/virtualMachineScaleSets';
const INSTANCE_TYPE = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines';
const VM_TYPE = 'Microsoft.Compute/virtualMachines';
const BASE = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmss}';
/** The emulator's stand-in for the Application Health extension (docs/internals.md). */
const UNHEALTHY_MARKER = '/var/lib/kiln-health/unhealthy';

const EFFECT_MODEL = 'vmss.modelApplied';
const EFFECT_UPGRADE = 'vmss.upgradeInstances';
const EFFECT_BATCH = 'vmss.rollingBatch';
const EFFECT_DELETE = 'vmss.delete';

interface InstanceState {
  power: 'running';
  disk?: string;
  modelVersion: number;
  exactVersion?: string;
  imageReference: Json;
  upgrading?: boolean;
}

interface RollingBatch {
  instanceIds: string[];
  startAt: number;
  endAt: number;
}

interface RollingState {
  operationId: string;
  policy: Json;
  code: 'RollingForward' | 'Cancelled' | 'Completed' | 'Faulted';
  startTime: string;
  lastAction: 'Start' | 'Cancel';
  lastActionTime: string;
  batches: RollingBatch[];
  successful: string[];
  failed: string[];
  error?: OperationFailure;
  /** Who started it: a user's startOSUpgrade or model change, or the platform's automatic OS image upgrade. */
  invoker: 'User' | 'Platform';
}

const ROLLING_DEFAULTS = {
  maxBatchInstancePercent: 20, maxUnhealthyInstancePercent: 20, maxUnhealthyUpgradedInstancePercent: 20, pauseTimeBetweenBatches: 'PT0S',
  enableCrossZoneUpgrade: false, prioritizeUnhealthyInstances: false, rollbackFailedInstancesOnPolicyBreach: false, maxSurge: false,
};

/** ISO-8601 durations as rolling upgrade policies use them (PT0S, PT2S, PT1M30S). */
function durationMs(text: unknown): number {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(String(text ?? 'PT0S'));
  if (!match) throw errors.invalidParameter('upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches', `pauseTimeBetweenBatches must be an ISO-8601 duration such as PT0S or PT30S, found ${JSON.stringify(text)}.`);
  return ((Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)) * 60 + Number(match[3] ?? 0)) * 1000;
}

const upgradePolicy = (vmss: StoredResource): Json => (vmss.properties.upgradePolicy as Json | undefined) ?? { mode: 'Manual' };
const rollingPolicy = (vmss: StoredResource): Json => ({ ...ROLLING_DEFAULTS, ...((upgradePolicy(vmss).rollingUpgradePolicy as Json | undefined) ?? {}) });
const modelImage = (vmss: StoredResource): Json | undefined => ((vmss.properties.virtualMachineProfile as Json | undefined)?.storageProfile as Json | undefined)?.imageReference as Json | undefined;

function hasHealthSource(properties: Json): boolean {
  const profile = (properties.virtualMachineProfile ?? {}) as Json;
  const extensions = ((profile.extensionProfile as Json | undefined)?.extensions ?? []) as Json[];
  const probe = (profile.networkProfile as Json | undefined)?.healthProbe;
  return probe !== undefined || extensions.some((e) => /ApplicationHealth/i.test(String((e.properties as Json | undefined)?.type ?? '')));
}

/** A PATCH body merged into the model: objects merge, null removes the property (as ARM's PATCH does). */
function deepMerge(target: Json, patch: Json): Json {
  const out: Json = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Json, value) : value;
  }
  return out;
}

const isFlexible = (vmss: StoredResource): boolean => vmss.properties.orchestrationMode === 'Flexible';
const isGalleryDefinition = (reference: Json | undefined): boolean => typeof reference?.id === 'string' && /\/galleries\/[^/]+\/images\/[^/]+$/i.test(reference.id);
const automaticOsUpgrade = (vmss: StoredResource): boolean => ((upgradePolicy(vmss).automaticOSUpgradePolicy as Json | undefined)?.enableAutomaticOSUpgrade) === true;
const isProtected = (instance: StoredResource): boolean => ((instance.properties.protectionPolicy as Json | undefined)?.protectFromScaleSetActions) === true;

const vmssId = (p: Record<string, string>): string => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'virtualMachineScaleSets', p.vmss!);

function requireVmss(ctx: HandlerContext, req: ArmRequest): StoredResource {
  return ctx.resources.require(req.params.sub!, req.params.rg!, vmssId(req.params), VMSS_TYPE, req.params.vmss!);
}

function instancesOf(ctx: HandlerContext, vmss: StoredResource): StoredResource[] {
  return ctx.resources.below(vmss.id).filter((r) => r.type === INSTANCE_TYPE).sort((a, b) => Number(a.extra?.instanceId) - Number(b.extra?.instanceId) || String(a.extra?.instanceId).localeCompare(String(b.extra?.instanceId)));
}

const istate = (instance: StoredResource) => instance.state as unknown as InstanceState;
const modelVersion = (vmss: StoredResource) => Number(vmss.state.modelVersion ?? 1);

async function healthy(ctx: HandlerContext, instance: StoredResource): Promise<boolean> {
  const disk = istate(instance).disk;
  return !disk || (await ctx.guest.readFile(disk, UNHEALTHY_MARKER)) === undefined;
}

/**
 * Gives an instance a fresh OS disk from the model `vmss` has (upgrade and reimage alike) and answers the instance as
 * saved, or undefined when it was removed meanwhile (scale-in, a delete), whose new disk is then freed. The instance
 * is read again after the disk work and only the fields a rebuild owns are written: a protection policy set meanwhile
 * stays, and a disk another rebuild gave it meanwhile is freed, as this one replaces it.
 */
async function rebuildInstance(ctx: HandlerContext, vmss: StoredResource, instance: StoredResource, operation: string): Promise<StoredResource | undefined> {
  const reference = modelImage(vmss);
  const image = resolveImage(ctx, reference, vmss.location!);
  const previous = istate(instance).disk;
  if (previous) await ctx.guest.deleteDisk(previous);
  const osProfile = ((vmss.properties.virtualMachineProfile as Json).osProfile ?? {}) as Json;
  const prefix = String(osProfile.computerNamePrefix ?? vmss.name);
  const id = String(instance.extra?.instanceId);
  const disk = await ctx.guest.createDisk(image.source, image.osState === 'Generalized' ? { computerName: `${prefix}${id.padStart(6, '0')}`, adminUsername: String(osProfile.adminUsername ?? 'azureuser') } : undefined);
  // An injected `unhealthy` fault makes this instance fail its health probe after the upgrade.
  if (ctx.takeFault({ operation, method: 'POST', path: instance.id }, 'unhealthy')) await ctx.guest.writeFile(disk, UNHEALTHY_MARKER, 'injected fault\n');
  const current = ctx.resources.find(instance.id);
  if (!current) {
    await ctx.guest.deleteDisk(disk);
    return undefined;
  }
  const state = istate(current);
  const replaced = state.disk !== previous ? state.disk : undefined;
  state.disk = disk;
  state.modelVersion = modelVersion(vmss);
  state.imageReference = reference ?? {};
  state.exactVersion = image.exactVersion;
  state.upgrading = false;
  ctx.resources.save(current);
  if (replaced) await ctx.guest.deleteDisk(replaced);
  return current;
}

/** Uniform members are numbered and never reuse a number; Flexible members are VMs named {scale set}_{8 hex}. */
function nextInstanceId(ctx: HandlerContext, vmss: StoredResource): string {
  if (isFlexible(vmss)) return `${vmss.name}_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  // The stored scale set, not the caller's copy: only the counter is written.
  const current = ctx.resources.find(vmss.id) ?? vmss;
  const next = Number(current.state.nextInstanceId ?? instancesOf(ctx, current).length);
  current.state.nextInstanceId = next + 1;
  ctx.resources.save(current);
  return String(next);
}

async function createInstance(ctx: HandlerContext, vmss: StoredResource, instanceId: string): Promise<void> {
  const id = `${vmss.id}/virtualMachines/${instanceId}`;
  const instance = ctx.resources.create({
    id, name: `${vmss.name}_${instanceId}`, type: INSTANCE_TYPE, resourceGroup: vmss.resourceGroup, location: vmss.location, tracked: false,
    extra: { instanceId }, properties: { vmId: randomUUID(), provisioningState: 'Succeeded' },
    state: { power: 'running', modelVersion: 0, imageReference: {} } satisfies InstanceState as unknown as Json,
  });
  await rebuildInstance(ctx, vmss, instance, 'virtualMachineScaleSets.createOrUpdate');
}

// ---- rolling upgrades ----

const rolling = (vmss: StoredResource) => vmss.state.rolling as RollingState | undefined;

/** Instances a rollout must touch: not on the latest model, or on an older image than a moving reference gives. */
function outdated(ctx: HandlerContext, vmss: StoredResource): StoredResource[] {
  const target = resolveImage(ctx, modelImage(vmss), vmss.location!).exactVersion;
  return instancesOf(ctx, vmss).filter((i) => !isProtected(i) && (istate(i).modelVersion !== modelVersion(vmss) || (target !== undefined && istate(i).exactVersion !== target)));
}

function startRollout(ctx: HandlerContext, vmss: StoredResource, req: ArmRequest, invoker: 'User' | 'Platform' = 'User'): Operation {
  const previous = rolling(vmss);
  if (previous?.code === 'RollingForward') {
    const running = ctx.ops.get(previous.operationId);
    if (running) ctx.ops.finish(running, { error: errors.operationPreempted() });
  }
  const policy = rollingPolicy(vmss);
  const targets = outdated(ctx, vmss);
  const batchSize = Math.max(1, Math.floor((instancesOf(ctx, vmss).length * Number(policy.maxBatchInstancePercent)) / 100));
  const pause = durationMs(policy.pauseTimeBetweenBatches);
  const batches: RollingBatch[] = [];
  let at = Date.now();
  for (let i = 0; i < targets.length; i += batchSize) {
    const duration = ctx.latency.durationMs('vmssInstanceUpgradeLinux') + ctx.latency.durationMs('healthExtensionToHealthy') + ctx.latency.durationMs('rollingUpgradeBatchOverhead');
    batches.push({ instanceIds: targets.slice(i, i + batchSize).map((t) => String(t.extra?.instanceId)), startAt: at, endAt: at + duration });
    at += duration + pause;
  }
  const steps: Step[] = batches.map((b, index) => ({ at: b.endAt, effect: { kind: EFFECT_BATCH, args: { id: vmss.id, index } } }));
  const operation = beginOperation(ctx, req, { resourceId: `${vmss.id}/rollingUpgrades`, location: vmss.location!, style: 'compute', steps });
  const now = new Date().toISOString();
  vmss.state.rolling = { operationId: operation.id, policy, code: batches.length > 0 ? 'RollingForward' : 'Completed', startTime: now, lastAction: 'Start', lastActionTime: now, batches, successful: [], failed: [], invoker } satisfies RollingState;
  ctx.resources.save(vmss);
  return operation;
}

/** Applies one planned batch of a rolling upgrade, then checks the policy's health thresholds. */
async function applyRollingBatch(ctx: HandlerContext, args: Json, op: Operation): Promise<{ fail: OperationFailure } | undefined> {
  const vmss = ctx.resources.find(String(args.id));
  const state = vmss ? rolling(vmss) : undefined;
  if (!vmss || !state || state.code !== 'RollingForward' || state.operationId !== op.id) return { fail: errors.operationPreempted() };
  const batch = state.batches[Number(args.index)]!;
  const upgraded: StoredResource[] = [];
  for (const id of batch.instanceIds) {
    const instance = ctx.resources.find(`${vmss.id}/virtualMachines/${id}`);
    // Autoscale may have removed it since the batch was planned; protection may have been set since.
    if (!instance || isProtected(instance)) continue;
    const rebuilt = await rebuildInstance(ctx, vmss, instance, 'virtualMachineScaleSetRollingUpgrades.batch');
    if (rebuilt) upgraded.push(rebuilt);
  }
  const upgradedHealth = [];
  for (const instance of upgraded) upgradedHealth.push({ id: String(instance.extra?.instanceId), healthy: await healthy(ctx, instance) });
  let unhealthyAll = 0;
  for (const instance of instancesOf(ctx, vmss)) if (!(await healthy(ctx, instance))) unhealthyAll++;
  // Read again after the awaits: a model update meanwhile started another rollout (this one is preempted), and
  // saving the copy read before would put back the old model and the old rollout.
  const current = ctx.resources.find(vmss.id);
  if (!current || rolling(current)?.operationId !== op.id || rolling(current)?.code !== 'RollingForward') return { fail: errors.operationPreempted() };
  return recordBatch(ctx, current, rolling(current)!, upgradedHealth, unhealthyAll, Number(args.index), op);
}

/** Counts a batch's upgraded instances against the policy's health thresholds; a breach faults the rollout. */
function recordBatch(ctx: HandlerContext, vmss: StoredResource, state: RollingState, upgradedHealth: { id: string; healthy: boolean }[], unhealthyAll: number, index: number, op: Operation): { fail: OperationFailure } | undefined {
  for (const instance of upgradedHealth) (instance.healthy ? state.successful : state.failed).push(instance.id);
  const total = instancesOf(ctx, vmss).length;
  const upgradedCount = state.successful.length + state.failed.length;
  const unhealthyUpgradedPercent = upgradedCount === 0 ? 0 : (state.failed.length / upgradedCount) * 100;
  const policy = state.policy;
  let fail: OperationFailure | undefined;
  if (unhealthyUpgradedPercent > Number(policy.maxUnhealthyUpgradedInstancePercent)) {
    fail = errors.rollingUpgradeUnhealthy('MaxUnhealthyUpgradedInstancePercent', `${state.failed.length} of ${upgradedCount} upgraded instances (${Math.round(unhealthyUpgradedPercent)}%) are unhealthy`, policy.maxUnhealthyUpgradedInstancePercent);
  } else if ((unhealthyAll / total) * 100 > Number(policy.maxUnhealthyInstancePercent)) {
    fail = errors.rollingUpgradeUnhealthy('MaxUnhealthyInstancePercent', `${unhealthyAll} of ${total} instances are unhealthy`, policy.maxUnhealthyInstancePercent);
  }
  const now = new Date().toISOString();
  if (fail) {
    state.code = 'Faulted';
    state.error = fail;
    state.lastActionTime = now;
    op.steps = [];
  } else if (index === state.batches.length - 1) {
    state.code = 'Completed';
    state.lastActionTime = now;
  }
  ctx.resources.save(vmss);
  return fail ? { fail } : undefined;
}

export function getLatestRollingUpgrade(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const vmss = requireVmss(ctx, req);
  platformOsUpgrade(ctx, vmss, req);
  const state = rolling(vmss);
  if (!state) throw errors.noRollingUpgrade(vmss.name);
  const now = Date.now();
  const done = new Set([...state.successful, ...state.failed]);
  const active = state.code === 'RollingForward' ? state.batches.find((b) => b.startAt <= now && now < b.endAt) : undefined;
  const inProgress = active ? active.instanceIds.filter((id) => !done.has(id)).length : 0;
  const planned = state.batches.reduce((n, b) => n + b.instanceIds.length, 0);
  const body: Json = {
    id: `${vmss.id}/rollingUpgrades/latest`, name: 'latest', type: 'Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades', location: vmss.location,
    properties: {
      policy: state.policy,
      runningStatus: { code: state.code, startTime: state.startTime, lastAction: state.lastAction, lastActionTime: state.lastActionTime },
      invoker: state.invoker,
      progress: {
        successfulInstanceCount: state.successful.length, failedInstanceCount: state.failed.length,
        inProgressInstanceCount: inProgress, pendingInstanceCount: state.code === 'RollingForward' ? planned - done.size - inProgress : 0,
      },
      ...(state.error ? { error: state.error } : {}),
    },
  };
  return { status: 200, body };
}

export function cancelRollingUpgrade(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const vmss = requireVmss(ctx, req);
  const state = rolling(vmss);
  if (state?.code !== 'RollingForward') throw errors.operationNotAllowed(`There is no ongoing rolling upgrade to cancel on scale set '${vmss.name}'.`);
  const now = new Date().toISOString();
  state.code = 'Cancelled';
  state.lastAction = 'Cancel';
  state.lastActionTime = now;
  ctx.resources.save(vmss);
  const running = ctx.ops.get(state.operationId);
  if (running) ctx.ops.finish(running, { status: 'Canceled', error: errors.rollingUpgradeCancelled() });
  const op = beginOperation(ctx, req, { resourceId: `${vmss.id}/rollingUpgrades/cancel`, location: vmss.location!, style: 'compute', steps: [] });
  return acceptedAction(req.origin, op);
}

// ---- model ----

/**
 * Brings the instance count to the model's capacity; in Automatic mode a model change upgrades every instance. The
 * scale set is read again after every await: requests (a model update, autoscale) and rollouts write it meanwhile.
 */
async function applyModel(ctx: HandlerContext, args: Json, op: Operation): Promise<undefined> {
  const id = String(args.id);
  for (let vmss = ctx.resources.find(id); vmss && instancesOf(ctx, vmss).length < Number(args.capacity ?? 0); vmss = ctx.resources.find(id)) {
    await createInstance(ctx, vmss, nextInstanceId(ctx, vmss));
  }
  const vmss = ctx.resources.find(id);
  if (!vmss) return;
  // A model write that came meanwhile is still Updating: its own operation says Succeeded.
  const newer = ctx.ops.running(id).some((other) => other.id !== op.id && other.steps.some((step) => step.effect.kind === EFFECT_MODEL));
  if (!newer) {
    vmss.properties.provisioningState = 'Succeeded';
    ctx.resources.save(vmss);
  }
  const mode = String(upgradePolicy(vmss).mode ?? 'Manual');
  if (args.modelChanged && mode === 'Automatic') {
    for (const instance of outdated(ctx, vmss)) await rebuildInstance(ctx, vmss, instance, 'virtualMachineScaleSets.update');
  }
  return undefined;
}

/** Rebuilds the named instances from the current model (updateInstances, reimage). */
async function upgradeInstances(ctx: HandlerContext, args: Json): Promise<void> {
  const vmss = ctx.resources.find(String(args.id));
  if (!vmss) return;
  for (const id of args.instanceIds as string[]) {
    const instance = ctx.resources.find(`${vmss.id}/virtualMachines/${id}`);
    if (instance) await rebuildInstance(ctx, vmss, instance, String(args.operation));
  }
}

/** Validates a (merged) model: an image Azure can resolve, and a health source for Rolling mode. */
function checkModel(ctx: HandlerContext, properties: Json, location: string): void {
  const mode = String(((properties.upgradePolicy ?? {}) as Json).mode ?? 'Manual');
  if (!['Manual', 'Automatic', 'Rolling'].includes(mode)) throw errors.invalidParameter('upgradePolicy.mode', `upgradePolicy.mode must be Manual, Automatic or Rolling, found '${mode}'.`);
  if (mode === 'Rolling' && !hasHealthSource(properties)) {
    throw errors.invalidParameter('upgradePolicy.mode', 'Rolling upgrade mode needs a health source: an Application Health extension or a load balancer health probe.');
  }
  if (mode === 'Rolling') durationMs(((((properties.upgradePolicy as Json).rollingUpgradePolicy ?? {}) as Json).pauseTimeBetweenBatches) ?? 'PT0S');
  const orchestration = properties.orchestrationMode ?? 'Uniform';
  if (orchestration !== 'Uniform' && orchestration !== 'Flexible') throw errors.invalidParameter('orchestrationMode', `orchestrationMode must be Uniform or Flexible, found ${JSON.stringify(orchestration)}.`);
  const autoOs = (((properties.upgradePolicy ?? {}) as Json).automaticOSUpgradePolicy ?? {}) as Json;
  if (autoOs.enableAutomaticOSUpgrade === true) {
    if (mode === 'Manual') throw errors.invalidParameter('upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade', 'Automatic OS image upgrade needs upgradePolicy.mode Automatic or Rolling, found Manual.');
    if (!hasHealthSource(properties)) throw errors.invalidParameter('upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade', 'Automatic OS image upgrade needs a health source: an Application Health extension or a load balancer health probe.');
  }
  resolveImage(ctx, ((properties.virtualMachineProfile as Json | undefined)?.storageProfile as Json | undefined)?.imageReference as Json | undefined, location);
}

function writeModel(ctx: HandlerContext, req: ArmRequest, patch: boolean): ArmResponse {
  const { sub, rg, vmss: name } = req.params as { sub: string; rg: string; vmss: string };
  validateName('scaleSet', name);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const id = vmssId(req.params);
  const existing = ctx.resources.find(id);
  if (patch && !existing) throw errors.resourceNotFound(VMSS_TYPE, name, rg);
  const location = existing?.location ?? requiredLocation(body);
  const incoming = objectAt(body, 'properties', 'properties') ?? {};
  const properties = patch && existing ? deepMerge(existing.properties, incoming) : { ...incoming };
  if (existing && (existing.properties.orchestrationMode ?? 'Uniform') !== (properties.orchestrationMode ?? 'Uniform')) {
    throw errors.propertyChangeNotAllowed('orchestrationMode');
  }
  const profile = objectAt(properties, 'virtualMachineProfile', 'properties.virtualMachineProfile');
  if (!profile) throw errors.requiredParameterMissing('virtualMachineProfile');
  const osProfile = objectAt(profile, 'osProfile', 'properties.virtualMachineProfile.osProfile');
  if (osProfile) {
    delete osProfile.adminPassword;
    delete osProfile.customData;
  }
  checkModel(ctx, properties, location);
  const sku = objectAt(body, 'sku') ?? (existing?.extra?.sku as Json | undefined) ?? { name: 'Standard_D2s_v5', tier: 'Standard', capacity: 0 };
  const capacity = sku.capacity ?? 0;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 0 || capacity > 1000) throw errors.invalidParameter('sku.capacity', `sku.capacity must be an integer from 0 to 1000, found ${JSON.stringify(capacity)}.`);
  const modelChanged = !existing || JSON.stringify(existing.properties.virtualMachineProfile) !== JSON.stringify(properties.virtualMachineProfile);
  const vmss = existing ?? ctx.resources.create({ id, name, type: VMSS_TYPE, resourceGroup: rg, location, properties: {}, state: { modelVersion: 1 } });
  if (existing && modelChanged) vmss.state.modelVersion = modelVersion(existing) + 1;
  vmss.tags = tagsOf(body) ?? vmss.tags;
  vmss.extra = { ...(vmss.extra ?? {}), sku, ...(body.identity ? { identity: body.identity } : {}), ...(body.zones ? { zones: body.zones } : {}) };
  vmss.properties = { ...properties, uniqueId: existing?.properties.uniqueId ?? randomUUID(), timeCreated: existing?.properties.timeCreated ?? new Date().toISOString(), provisioningState: existing ? 'Updating' : 'Creating' };
  ctx.resources.save(vmss);
  const op = beginOperation(ctx, req, {
    resourceId: id, location, style: 'compute', markFailedOnFault: true,
    steps: [stepAfter(ctx, 'vmssModelUpdate', { kind: EFFECT_MODEL, args: { id, capacity, modelChanged } })],
  });
  // In Rolling mode a model change starts a batched upgrade of the instances (after the model is saved).
  if (existing && modelChanged && String(upgradePolicy(vmss).mode) === 'Rolling') startRollout(ctx, vmss, { ...req, operation: 'virtualMachineScaleSetRollingUpgrades.startOSUpgrade' });
  // PATCH answers without Location (its final GET would follow it otherwise).
  return acceptedWrite(req.origin, op, !existing, present(vmss));
}

// ---- automatic OS image upgrade ----

/**
 * With a definition reference and automatic OS image upgrade on, a newer version that became latest (promotion)
 * and reached the region starts a platform rolling upgrade, once per version; Azure notices it when the scale set
 * is next looked at.
 */
function platformOsUpgrade(ctx: HandlerContext, vmss: StoredResource, req: ArmRequest): void {
  if (!automaticOsUpgrade(vmss) || !isGalleryDefinition(modelImage(vmss)) || rolling(vmss)?.code === 'RollingForward') return;
  let latestVersion: string | undefined;
  try {
    latestVersion = resolveImage(ctx, modelImage(vmss), vmss.location!).exactVersion;
  } catch {
    return; // not replicated to this region yet: nothing to upgrade to
  }
  if (!latestVersion || vmss.state.autoOsUpgradeVersion === latestVersion || outdated(ctx, vmss).length === 0) return;
  vmss.state.autoOsUpgradeVersion = latestVersion;
  startRollout(ctx, vmss, { ...req, operation: 'virtualMachineScaleSetRollingUpgrades.startOSUpgrade' }, 'Platform');
}

// ---- autoscale ----

/**
 * The scaleIn/scaleOut faults stand for autoscale acting while a request about the set runs: scale-in removes the
 * newest unprotected member outside `keep`; scale-out adds one made from the current model (as Azure makes it).
 */
async function autoscale(ctx: HandlerContext, vmss: StoredResource, req: ArmRequest, keep: string[]): Promise<void> {
  const request = { operation: req.operation, method: req.method, path: req.path };
  // Read again after the disk work: rollouts and other requests write the scale set meanwhile.
  const capacity = (delta: number) => {
    const current = ctx.resources.find(vmss.id);
    if (!current) return;
    const sku = (current.extra?.sku ?? {}) as Json;
    current.extra = { ...(current.extra ?? {}), sku: { ...sku, capacity: Math.max(0, Number(sku.capacity ?? 0) + delta) } };
    ctx.resources.save(current);
  };
  if (ctx.takeFault(request, 'scaleIn')) {
    const victim = instancesOf(ctx, vmss).filter((i) => !keep.includes(String(i.extra?.instanceId)) && ((i.properties.protectionPolicy as Json | undefined)?.protectFromScaleIn) !== true).at(-1);
    if (!victim) return;
    const disk = istate(victim).disk;
    if (disk) await ctx.guest.deleteDisk(disk);
    const current = ctx.resources.find(victim.id);
    if (!current) return;
    ctx.resources.remove(victim.id);
    capacity(-1);
    // A rebuild that ended meanwhile gave it another disk: that one goes too.
    const rebuilt = istate(current).disk;
    if (rebuilt && rebuilt !== disk) await ctx.guest.deleteDisk(rebuilt);
  } else if (ctx.takeFault(request, 'scaleOut')) {
    await createInstance(ctx, vmss, nextInstanceId(ctx, vmss));
    capacity(1);
  }
}

// ---- instances ----

async function presentInstance(ctx: HandlerContext, vmss: StoredResource, instance: StoredResource, expand: boolean): Promise<Json> {
  const state = istate(instance);
  const { protectionPolicy, ...stored } = instance.properties;
  const properties: Json = {
    ...stored,
    latestModelApplied: state.modelVersion === modelVersion(vmss),
    provisioningState: state.upgrading ? 'Updating' : 'Succeeded',
    storageProfile: { imageReference: { ...state.imageReference, ...(state.exactVersion ? { exactVersion: state.exactVersion } : {}) } },
    ...(protectionPolicy ? { protectionPolicy } : {}),
  };
  if (expand) properties.instanceView = await instanceViewOf(ctx, vmss, instance);
  return { id: instance.id, name: instance.name, type: instance.type, location: instance.location, instanceId: instance.extra?.instanceId, properties };
}

async function instanceViewOf(ctx: HandlerContext, vmss: StoredResource, instance: StoredResource): Promise<Json> {
  const view: Json = { statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded' }, { code: `PowerState/${istate(instance).power}`, level: 'Info', displayStatus: 'VM running' }] };
  if (hasHealthSource(vmss.properties)) {
    const ok = await healthy(ctx, instance);
    view.vmHealth = { status: { code: ok ? 'HealthState/healthy' : 'HealthState/unhealthy', level: ok ? 'Info' : 'Warning', displayStatus: ok ? 'The VM is healthy' : 'The VM is unhealthy' } };
  }
  return view;
}

/** A Flexible member as the VM list shows it: an ordinary VM that names its scale set. */
async function presentFlexibleMember(ctx: HandlerContext, vmss: StoredResource, instance: StoredResource, expand: boolean): Promise<Json> {
  const state = istate(instance);
  const id = providerId(ctx.subscriptionId, vmss.resourceGroup, 'Microsoft.Compute', 'virtualMachines', String(instance.extra?.instanceId));
  const properties: Json = {
    vmId: instance.properties.vmId,
    provisioningState: state.upgrading ? 'Updating' : 'Succeeded',
    virtualMachineScaleSet: { id: vmss.id },
    storageProfile: { imageReference: { ...state.imageReference, ...(state.exactVersion ? { exactVersion: state.exactVersion } : {}) } },
    ...(expand ? { instanceView: await instanceViewOf(ctx, vmss, instance) } : {}),
  };
  return { id, name: String(instance.extra?.instanceId), type: VM_TYPE, location: instance.location, properties };
}

/** The Uniform-only instance APIs refuse a Flexible scale set (its members are VMs). */
function requireUniform(vmss: StoredResource, operation: string): void {
  if (isFlexible(vmss)) throw errors.operationNotAllowed(`The operation '${operation}' is not supported for Virtual Machine Scale Set '${vmss.name}' with orchestration mode 'Flexible': its members are virtual machines.`);
}

/** The two filters Azure allows on the instance list. */
function instanceFilter(filter: string | null): ((view: Json) => boolean) | undefined {
  if (!filter) return undefined;
  const latestModel = /^\s*properties\/latestModelApplied\s+eq\s+(true|false)\s*$/i.exec(filter);
  if (latestModel) return (view) => (view.properties as Json).latestModelApplied === (latestModel[1]!.toLowerCase() === 'true');
  if (/^\s*startswith\(instanceView\/statuses\/code,\s*'PowerState'\)\s+eq\s+true\s*$/i.test(filter)) return () => true;
  throw errors.invalidParameter('$filter', `The $filter '${filter}' is not supported: expected properties/latestModelApplied eq true|false or startswith(instanceView/statuses/code, 'PowerState') eq true.`);
}

export async function listScaleSetInstances(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  const vmss = requireVmss(ctx, req);
  requireUniform(vmss, 'virtualMachineScaleSetVMs.list');
  platformOsUpgrade(ctx, vmss, req);
  await autoscale(ctx, vmss, req, []);
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview';
  const filter = instanceFilter(req.query.get('$filter'));
  const value: Json[] = [];
  // The model as it is now (autoscale awaited disk work, during which it may have changed).
  const current = requireVmss(ctx, req);
  for (const instance of instancesOf(ctx, current)) {
    const view = await presentInstance(ctx, current, instance, expand || /PowerState/i.test(req.query.get('$filter') ?? ''));
    if (!filter || filter(view)) value.push(view);
  }
  return { status: 200, body: { value, nextLink: null } };
}

/**
 * The resource group's VM list, where Flexible members appear; `$filter='virtualMachineScaleSet/id' eq '{id}'`
 * lists one scale set's members, and only with it may `$expand=instanceView` be asked for (as Azure says).
 */
export async function listVirtualMachines(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  const { sub, rg } = req.params as { sub: string; rg: string };
  ctx.resources.requireGroup(sub, rg);
  const filter = req.query.get('$filter');
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview';
  if (!filter) {
    if (expand) throw errors.invalidParameter('$expand', "The $expand 'instanceView' can only be specified with a valid $filter option ('virtualMachineScaleSet/id' eq '{scale set id}').");
    const group = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/`.toLowerCase();
    const vms = ctx.resources.store.list<StoredResource>('resource', '').filter((r) => r.type === VM_TYPE && r.id.toLowerCase().startsWith(group));
    const flexible: Json[] = [];
    for (const set of ctx.resources.store.list<StoredResource>('resource', '').filter((r) => r.type === VMSS_TYPE && isFlexible(r) && r.id.toLowerCase().startsWith(group))) {
      for (const instance of instancesOf(ctx, set)) flexible.push(await presentFlexibleMember(ctx, set, instance, false));
    }
    return { status: 200, body: { value: [...vms.map((vm) => present(vm)), ...flexible], nextLink: null } };
  }
  const match = /^\s*'virtualMachineScaleSet\/id'\s+eq\s+'([^']+)'\s*$/i.exec(filter);
  if (!match) throw errors.invalidParameter('$filter', `The $filter '${filter}' is not supported: the allowed value is 'virtualMachineScaleSet/id' eq '/subscriptions/{subId}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}'.`);
  const vmss = ctx.resources.find(match[1]!);
  if (!vmss || vmss.type !== VMSS_TYPE) return { status: 200, body: { value: [], nextLink: null } };
  platformOsUpgrade(ctx, vmss, req);
  await autoscale(ctx, vmss, req, []);
  const value: Json[] = [];
  // Uniform instances are not VMs of the group's list.
  if (isFlexible(vmss)) for (const instance of instancesOf(ctx, vmss)) value.push(await presentFlexibleMember(ctx, vmss, instance, expand));
  return { status: 200, body: { value, nextLink: null } };
}

function requireInstance(ctx: HandlerContext, req: ArmRequest): { vmss: StoredResource; instance: StoredResource } {
  const vmss = requireVmss(ctx, req);
  requireUniform(vmss, req.operation);
  const instance = ctx.resources.find(`${vmss.id}/virtualMachines/${req.params.instance}`);
  if (!instance) throw errors.notFound(`scale set instance '${req.params.instance}' of '${vmss.name}'`);
  return { vmss, instance };
}

/** PUT/PATCH of an instance: the one writable part Kiln's world needs is protectionPolicy. */
export async function updateScaleSetInstance(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  const { vmss, instance } = requireInstance(ctx, req);
  const properties = objectAt(bodyObject(req.body), 'properties', 'properties') ?? {};
  const policy = objectAt(properties, 'protectionPolicy', 'properties.protectionPolicy');
  if (policy) {
    for (const key of ['protectFromScaleIn', 'protectFromScaleSetActions']) {
      if (policy[key] !== undefined && typeof policy[key] !== 'boolean') throw errors.invalidParameter(`properties.protectionPolicy.${key}`, `${key} must be true or false, found ${JSON.stringify(policy[key])}.`);
    }
    instance.properties = { ...instance.properties, protectionPolicy: { protectFromScaleIn: policy.protectFromScaleIn === true, protectFromScaleSetActions: policy.protectFromScaleSetActions === true } };
    ctx.resources.save(instance);
  }
  return { status: 200, body: await presentInstance(ctx, vmss, instance, false) };
}

/** `{instanceIds}` from an action body, checked against the scale set (every instance when absent). */
function instanceIdsOf(ctx: HandlerContext, vmss: StoredResource, body: unknown): string[] {
  const all = instancesOf(ctx, vmss).map((i) => String(i.extra?.instanceId));
  const ids = isObject(body) ? arrayAt(body, 'instanceIds') : undefined;
  if (!ids) return all;
  for (const id of ids) {
    if (typeof id !== 'string' || !all.includes(id)) throw errors.invalidParameter('instanceIds', `Instance id ${JSON.stringify(id)} is not an instance of scale set '${vmss.name}' (instances: ${all.join(', ')}).`);
  }
  return ids as string[];
}

/** Rebuilds the named instances (all when none are named) from the current model, as one operation. */
async function upgradeAction(ctx: HandlerContext, req: ArmRequest, operation: string, requireIds: boolean): Promise<ArmResponse> {
  const vmss = requireVmss(ctx, req);
  if (requireIds && !(isObject(req.body) && Array.isArray(req.body.instanceIds))) {
    throw errors.requiredParameterMissing('instanceIds');
  }
  const ids = req.params.instance ? [requireInstance(ctx, req).instance.extra?.instanceId as string] : instanceIdsOf(ctx, vmss, req.body);
  const guarded = ids.filter((id) => isProtected(ctx.resources.find(`${vmss.id}/virtualMachines/${id}`)!));
  if (guarded.length > 0) {
    throw errors.operationNotAllowed(`Instances ${guarded.join(', ')} of scale set '${vmss.name}' are protected from scale set actions (protectionPolicy.protectFromScaleSetActions); the operation cannot be performed on them.`);
  }
  for (const id of ids) {
    const instance = ctx.resources.find(`${vmss.id}/virtualMachines/${id}`)!;
    istate(instance).upgrading = true;
    ctx.resources.save(instance);
  }
  await autoscale(ctx, vmss, req, ids);
  const op = beginOperation(ctx, req, { resourceId: vmss.id, location: vmss.location!, style: 'compute', steps: [stepAfter(ctx, 'vmssInstanceUpgradeLinux', { kind: EFFECT_UPGRADE, args: { id: vmss.id, instanceIds: ids, operation } })] });
  return acceptedAction(req.origin, op);
}

export function startOsUpgrade(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const vmss = requireVmss(ctx, req);
  if (String(upgradePolicy(vmss).mode) !== 'Rolling' && !((upgradePolicy(vmss).automaticOSUpgradePolicy as Json | undefined)?.useRollingUpgradePolicy)) {
    throw errors.operationNotAllowed(`Scale set '${vmss.name}' has upgradePolicy.mode '${String(upgradePolicy(vmss).mode)}': a rolling OS upgrade needs Rolling mode.`);
  }
  const op = startRollout(ctx, vmss, req);
  return acceptedAction(req.origin, op);
}


export function getScaleSet(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const vmss = requireVmss(ctx, req);
  platformOsUpgrade(ctx, vmss, req);
  return { status: 200, body: present(vmss) };
}

export const createOrUpdateScaleSet = (ctx: HandlerContext, req: ArmRequest): ArmResponse => writeModel(ctx, req, false);
export const updateScaleSet = (ctx: HandlerContext, req: ArmRequest): ArmResponse => writeModel(ctx, req, true);
export const deleteScaleSet = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  deleteHandler(ctx, { idOf: vmssId, style: 'compute', latency: 'vmssModelUpdate', effect: EFFECT_DELETE })(req);
export const updateScaleSetInstances = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => upgradeAction(ctx, req, 'virtualMachineScaleSets.updateInstances', true);
export const reimageScaleSet = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => upgradeAction(ctx, req, 'virtualMachineScaleSets.reimage', false);
export const reimageAllScaleSet = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => upgradeAction(ctx, req, 'virtualMachineScaleSets.reimageAll', false);
export const reimageScaleSetInstance = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => upgradeAction(ctx, req, 'virtualMachineScaleSetVMs.reimage', false);

export async function getScaleSetInstance(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  const { vmss, instance } = requireInstance(ctx, req);
  return { status: 200, body: await presentInstance(ctx, vmss, instance, (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview') };
}

export async function getScaleSetInstanceView(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  const { vmss, instance } = requireInstance(ctx, req);
  return { status: 200, body: await instanceViewOf(ctx, vmss, instance) };
}

/** The effects scale set operations apply when their time comes (also after an emulator restart). */
export function registerScaleSetEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(EFFECT_BATCH, (args, op) => applyRollingBatch(ctx, args, op));
  ctx.ops.registerEffect(EFFECT_MODEL, (args, op) => applyModel(ctx, args, op));
  ctx.ops.registerEffect(EFFECT_UPGRADE, (args) => upgradeInstances(ctx, args));
  registerDeleteEffect(ctx, EFFECT_DELETE);
}

/** The route table: each operation's function, given the context. */
export function scaleSetRoutes(ctx: HandlerContext): Route[] {
  registerScaleSetEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'GET', pattern: BASE, operation: 'virtualMachineScaleSets.get', api: 'compute', handler: on(getScaleSet) },
    { method: 'PUT', pattern: BASE, operation: 'virtualMachineScaleSets.createOrUpdate', api: 'compute', handler: on(createOrUpdateScaleSet) },
    { method: 'PATCH', pattern: BASE, operation: 'virtualMachineScaleSets.update', api: 'compute', handler: on(updateScaleSet) },
    { method: 'DELETE', pattern: BASE, operation: 'virtualMachineScaleSets.delete', api: 'compute', handler: on(deleteScaleSet) },
    { method: 'POST', pattern: `${BASE}/manualupgrade`, operation: 'virtualMachineScaleSets.updateInstances', api: 'compute', handler: on(updateScaleSetInstances) },
    { method: 'POST', pattern: `${BASE}/reimage`, operation: 'virtualMachineScaleSets.reimage', api: 'compute', handler: on(reimageScaleSet) },
    { method: 'POST', pattern: `${BASE}/reimageall`, operation: 'virtualMachineScaleSets.reimageAll', api: 'compute', handler: on(reimageAllScaleSet) },
    { method: 'POST', pattern: `${BASE}/virtualMachines/{instance}/reimage`, operation: 'virtualMachineScaleSetVMs.reimage', api: 'compute', handler: on(reimageScaleSetInstance) },
    { method: 'GET', pattern: `${BASE}/virtualMachines`, operation: 'virtualMachineScaleSetVMs.list', api: 'compute', handler: on(listScaleSetInstances) },
    { method: 'GET', pattern: `${BASE}/virtualMachines/{instance}`, operation: 'virtualMachineScaleSetVMs.get', api: 'compute', handler: on(getScaleSetInstance) },
    { method: 'PUT', pattern: `${BASE}/virtualMachines/{instance}`, operation: 'virtualMachineScaleSetVMs.update', api: 'compute', handler: on(updateScaleSetInstance) },
    { method: 'PATCH', pattern: `${BASE}/virtualMachines/{instance}`, operation: 'virtualMachineScaleSetVMs.update', api: 'compute', handler: on(updateScaleSetInstance) },
    { method: 'GET', pattern: `${BASE}/virtualMachines/{instance}/instanceView`, operation: 'virtualMachineScaleSetVMs.getInstanceView', api: 'compute', handler: on(getScaleSetInstanceView) },
    { method: 'GET', pattern: '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines', operation: 'virtualMachines.list', api: 'compute', handler: on(listVirtualMachines) },
    { method: 'POST', pattern: `${BASE}/osRollingUpgrade`, operation: 'virtualMachineScaleSetRollingUpgrades.startOSUpgrade', api: 'compute', handler: on(startOsUpgrade) },
    { method: 'POST', pattern: `${BASE}/extensionRollingUpgrade`, operation: 'virtualMachineScaleSetRollingUpgrades.startExtensionUpgrade', api: 'compute', handler: on(startOsUpgrade) },
    { method: 'POST', pattern: `${BASE}/rollingUpgrades/cancel`, operation: 'virtualMachineScaleSetRollingUpgrades.cancel', api: 'compute', handler: on(cancelRollingUpgrade) },
    { method: 'GET', pattern: `${BASE}/rollingUpgrades/latest`, operation: 'virtualMachineScaleSetRollingUpgrades.getLatest', api: 'compute', handler: on(getLatestRollingUpgrade) },
  ];
}
