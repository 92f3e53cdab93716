/**
 * Scale sets for the rollout: the model's image and upgrade policy, pointing the model at an image, its members in
 * either orchestration mode (Uniform instances or Flexible VMs), manual upgrades, and Azure's rolling upgrades.
 */

import type { RollingUpgradeStatusInfo, VirtualMachine, VirtualMachineScaleSet, VirtualMachineScaleSetVM } from '@azure/arm-compute';
import type { AzureClients } from './clients.ts';
import { azureError, callAzure, classifyAzureError } from './errors.ts';
import { parseResourceId } from './ids.ts';
import { startOperation, type OperationHandle } from './operations.ts';

export function scaleSetParts(scaleSetId: string): { resourceGroup: string; name: string } {
  const p = parseResourceId(scaleSetId);
  const last = p.segments.at(-1);
  if (p.provider.toLowerCase() !== 'microsoft.compute' || p.segments.length !== 1 || last?.[0].toLowerCase() !== 'virtualmachinescalesets') {
    throw new Error(`scale set id ${JSON.stringify(scaleSetId)}: expected …/providers/Microsoft.Compute/virtualMachineScaleSets/{name}`);
  }
  return { resourceGroup: p.resourceGroup, name: last[1] };
}

/** An image a model can name: a gallery version or definition or managed image by id, or a marketplace image. */
export type ScaleSetImage = { id: string } | { publisher: string; offer: string; sku: string; version: string };
export type OrchestrationMode = 'Uniform' | 'Flexible';
export type UpgradeMode = 'Manual' | 'Automatic' | 'Rolling';
export type HealthSource = 'ApplicationHealthExtension' | 'LoadBalancerProbe' | 'None';
export type InstanceHealthState = 'Healthy' | 'Unhealthy' | 'Initializing' | 'Unknown';

export function describeImage(image: ScaleSetImage): string {
  return 'id' in image ? image.id : `${image.publisher}:${image.offer}:${image.sku}:${image.version}`;
}

export function sameImage(a: ScaleSetImage, b: ScaleSetImage): boolean {
  return describeImage(a).toLowerCase() === describeImage(b).toLowerCase();
}

/** The gallery image definition id of a version id (…/images/{def}/versions/{v}), else undefined. */
export function definitionOf(imageId: string): string | undefined {
  const match = /^(.*\/galleries\/[^/]+\/images\/[^/]+)\/versions\/([^/]+)$/i.exec(imageId);
  return match?.[1];
}

export function isGalleryDefinition(imageId: string): boolean {
  return /\/galleries\/[^/]+\/images\/[^/]+$/i.test(imageId);
}

/** What an instance reports it runs: the model's reference, plus the version a definition reference resolved to. */
export interface RunningImage {
  image?: ScaleSetImage;
  exactVersion?: string;
}

/** Whether an instance runs `target` (a version id also matches its definition resolved to that version). */
export function runsImage(running: RunningImage, target: ScaleSetImage): boolean {
  if (!running.image) return false;
  if (sameImage(running.image, target)) return true;
  if (!('id' in running.image) || !('id' in target)) return false;
  const definition = definitionOf(target.id);
  const version = target.id.split('/').at(-1);
  return definition !== undefined && running.image.id.toLowerCase() === definition.toLowerCase() && running.exactVersion === version;
}

function imageOf(reference: { id?: string; publisher?: string; offer?: string; sku?: string; version?: string } | undefined): ScaleSetImage | undefined {
  if (!reference) return undefined;
  if (reference.id) return { id: reference.id };
  const { publisher, offer, sku, version } = reference;
  if (publisher && offer && sku) return { publisher, offer, sku, version: version ?? 'latest' };
  return undefined;
}

export async function getScaleSet(clients: AzureClients, scaleSetId: string): Promise<VirtualMachineScaleSet> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  return callAzure('read scale set', scaleSetId, () => clients.compute.virtualMachineScaleSets.get(resourceGroup, name));
}

/** The model's image: any image Azure accepts is a rollback target. */
export function modelImage(scaleSet: VirtualMachineScaleSet): ScaleSetImage | undefined {
  return imageOf(scaleSet.virtualMachineProfile?.storageProfile?.imageReference);
}

export function orchestrationMode(scaleSet: VirtualMachineScaleSet): OrchestrationMode {
  return scaleSet.orchestrationMode === 'Flexible' ? 'Flexible' : 'Uniform';
}

export function upgradeMode(scaleSet: VirtualMachineScaleSet): UpgradeMode {
  const mode = scaleSet.upgradePolicy?.mode;
  return mode === 'Automatic' || mode === 'Rolling' ? mode : 'Manual';
}

export function automaticOSUpgrade(scaleSet: VirtualMachineScaleSet): boolean {
  return scaleSet.upgradePolicy?.automaticOSUpgradePolicy?.enableAutomaticOSUpgrade === true;
}

/** Azure's rolling batch size (the rolling policy's, 20% by default; automatic OS upgrades use it too). */
export function rollingBatchPercent(scaleSet: VirtualMachineScaleSet): number {
  return scaleSet.upgradePolicy?.rollingUpgradePolicy?.maxBatchInstancePercent ?? 20;
}

/** Where instance health comes from: the Application Health extension, else the load balancer probe, else nowhere. */
export function healthSource(scaleSet: VirtualMachineScaleSet): HealthSource {
  const profile = scaleSet.virtualMachineProfile;
  const extensions = profile?.extensionProfile?.extensions ?? [];
  // The SDK flattens the extension's properties: its handler type is typePropertiesType.
  if (extensions.some((e) => /^ApplicationHealth(Linux|Windows)$/i.test(e.typePropertiesType ?? ''))) return 'ApplicationHealthExtension';
  return profile?.networkProfile?.healthProbe?.id ? 'LoadBalancerProbe' : 'None';
}

/** One member of a scale set as the rollout sees it, whatever the orchestration mode. */
export interface ScaleSetMember {
  /** Uniform: the instance id; Flexible: the VM name (what updateInstances takes in that mode). */
  instanceId: string;
  running: RunningImage;
  health: InstanceHealthState;
  /** protectionPolicy.protectFromScaleSetActions: model updates and upgrades leave it alone. */
  protected: boolean;
}

function healthOf(code: string | undefined): InstanceHealthState {
  switch (code?.toLowerCase()) {
    case 'healthstate/healthy':
      return 'Healthy';
    case 'healthstate/unhealthy':
      return 'Unhealthy';
    case 'healthstate/initializing':
      return 'Initializing';
    default:
      return 'Unknown';
  }
}

function uniformMember(vm: VirtualMachineScaleSetVM): ScaleSetMember | undefined {
  if (vm.instanceId === undefined) return undefined;
  const reference = vm.storageProfile?.imageReference;
  return {
    instanceId: vm.instanceId,
    running: { image: imageOf(reference), ...(reference?.exactVersion ? { exactVersion: reference.exactVersion } : {}) },
    health: healthOf(vm.instanceView?.vmHealth?.status?.code),
    protected: vm.protectionPolicy?.protectFromScaleSetActions === true,
  };
}

function flexibleMember(vm: VirtualMachine): ScaleSetMember | undefined {
  if (!vm.name) return undefined;
  const reference = vm.storageProfile?.imageReference;
  return {
    instanceId: vm.name,
    running: { image: imageOf(reference), ...(reference?.exactVersion ? { exactVersion: reference.exactVersion } : {}) },
    health: healthOf(vm.instanceView?.vmHealth?.status?.code),
    // Flexible members have no instance protection (Azure offers resource locks there instead).
    protected: false,
  };
}

/**
 * Every member with its image and health, read fresh (autoscale may have added or removed some): Uniform through
 * the scale set's instance list, Flexible through the VM list filtered on the scale set.
 */
export async function listMembers(clients: AzureClients, scaleSetId: string, mode: OrchestrationMode): Promise<ScaleSetMember[]> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  return callAzure('list instances of', scaleSetId, async () => {
    const out: ScaleSetMember[] = [];
    if (mode === 'Uniform') {
      for await (const vm of clients.compute.virtualMachineScaleSetVMs.list(resourceGroup, name, { expand: 'instanceView' })) {
        const member = uniformMember(vm);
        if (member) out.push(member);
      }
    } else {
      const filter = `'virtualMachineScaleSet/id' eq '${scaleSetId}'`;
      for await (const vm of clients.compute.virtualMachines.list(resourceGroup, { filter, expand: 'instanceView' })) {
        const member = flexibleMember(vm);
        if (member) out.push(member);
      }
    }
    return out.sort((a, b) => Number(a.instanceId) - Number(b.instanceId) || a.instanceId.localeCompare(b.instanceId));
  });
}

/** The image reference a PATCH sends: the fields of the other kind set to null so Azure drops them. */
function referencePatch(image: ScaleSetImage): Record<string, string | null> {
  if ('id' in image) return { id: image.id, publisher: null, offer: null, sku: null, version: null };
  return { id: null, ...image };
}

/**
 * Points the model at an image (PATCH: everything else in the model stays); `upgradeMode`, when given, changes
 * the upgrade policy in the same request. Nothing is sent when the model already says so.
 */
export async function startSetModelImage(
  clients: AzureClients,
  scaleSetId: string,
  image: ScaleSetImage,
  options: { upgradeMode?: UpgradeMode } = {},
): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  const current = await getScaleSet(clients, scaleSetId);
  const imageDone = modelImage(current) !== undefined && sameImage(modelImage(current)!, image);
  const modeDone = options.upgradeMode === undefined || upgradeMode(current) === options.upgradeMode;
  if (imageDone && modeDone) return undefined;
  const body = {
    ...(modeDone ? {} : { upgradePolicy: { mode: options.upgradeMode } }),
    ...(imageDone ? {} : { virtualMachineProfile: { storageProfile: { imageReference: referencePatch(image) } } }),
  };
  return startOperation(() => clients.compute.virtualMachineScaleSets.update(resourceGroup, name, body as never), {
    action: 'update scale set model of',
    resourceId: scaleSetId,
    api: 'compute',
  });
}

/** Brings the given members to the latest model (manualUpgrade); ones already on `image` are left out. */
export async function startUpgradeInstances(
  clients: AzureClients,
  scaleSetId: string,
  instanceIds: string[],
  image: ScaleSetImage,
): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  const mode = orchestrationMode(await getScaleSet(clients, scaleSetId));
  const wanted = new Set(instanceIds);
  const stale = (await listMembers(clients, scaleSetId, mode)).filter((m) => wanted.has(m.instanceId) && !runsImage(m.running, image)).map((m) => m.instanceId);
  if (stale.length === 0) return undefined;
  return startOperation(() => clients.compute.virtualMachineScaleSets.updateInstances(resourceGroup, name, { instanceIds: stale }), {
    action: 'upgrade instances of',
    resourceId: scaleSetId,
    api: 'compute',
  });
}

/** What Kiln reads of Azure's latest rolling upgrade (a Rolling policy's, or an automatic OS upgrade's). */
export interface RollingUpgradeState {
  code: 'RollingForward' | 'RollingBack' | 'Cancelled' | 'Completed' | 'Faulted';
  startTime?: string;
  successful: number;
  failed: number;
  inProgress: number;
  pending: number;
  error?: { code: string; message: string };
}

/** The latest rolling upgrade, or undefined when the scale set has never had one. */
export async function getLatestRollingUpgrade(clients: AzureClients, scaleSetId: string): Promise<RollingUpgradeState | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  let status: RollingUpgradeStatusInfo;
  try {
    status = await clients.compute.virtualMachineScaleSetRollingUpgrades.getLatest(resourceGroup, name);
  } catch (err) {
    if (classifyAzureError(err).statusCode === 404) return undefined;
    throw azureError(err, 'read the rolling upgrade of', scaleSetId);
  }
  const progress = status.progress ?? {};
  const error = status.error;
  return {
    code: status.runningStatus?.code ?? 'RollingForward',
    ...(status.runningStatus?.startTime ? { startTime: new Date(status.runningStatus.startTime).toISOString() } : {}),
    successful: progress.successfulInstanceCount ?? 0,
    failed: progress.failedInstanceCount ?? 0,
    inProgress: progress.inProgressInstanceCount ?? 0,
    pending: progress.pendingInstanceCount ?? 0,
    ...(error ? { error: { code: error.code ?? 'RollingUpgradeFailed', message: error.message ?? 'the rolling upgrade failed' } } : {}),
  };
}

/** Starts Azure's rolling OS upgrade of every instance not on the latest model; Kiln follows it with getLatest. */
export async function startRollingUpgrade(clients: AzureClients, scaleSetId: string): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  return startOperation(() => clients.compute.virtualMachineScaleSetRollingUpgrades.startOSUpgrade(resourceGroup, name), {
    action: 'start a rolling upgrade of',
    resourceId: scaleSetId,
    api: 'compute',
  });
}

/** Cancels the running rolling upgrade; none running is fine (a cancel that came late). */
export async function startCancelRollingUpgrade(clients: AzureClients, scaleSetId: string): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  const latest = await getLatestRollingUpgrade(clients, scaleSetId);
  if (latest?.code !== 'RollingForward') return undefined;
  return startOperation(() => clients.compute.virtualMachineScaleSetRollingUpgrades.cancel(resourceGroup, name), {
    action: 'cancel the rolling upgrade of',
    resourceId: scaleSetId,
    api: 'compute',
  });
}
