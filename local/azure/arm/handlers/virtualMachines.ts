/**
 * Virtual machines: create from a marketplace image, a managed image or a gallery version; get with instanceView;
 * deallocate, powerOff, start, restart, generalize and delete, with Azure's state rules.
 */
import { randomUUID } from 'node:crypto';
import { beginOperation, stepAfter, withContext, type DiskSource, type HandlerContext } from '../context.ts';
import { errors, type OperationFailure } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedAction, acceptedWrite } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, deleteTree } from '../release.ts';
import type { Route } from '../routes.ts';
import { bodyObject, isObject, objectAt, requiredLocation, requiredString, stringAt, tagsOf, validateName, type Json } from '../validate.ts';
import { checkVmSize, findVmSize, type VmSize } from '../catalogue/vm-sizes.ts';
import { resolveImage } from './imageSources.ts';
import { attachVmNics, checkVmNics, releaseVmNics } from './networkInterfaces.ts';
import { createOsDisk, releaseVmOsDisk } from './osDisks.ts';
import { checkVmSecurity, vmSecurityType, type VmSecurityType } from './securityTypes.ts';

export const VM_TYPE = 'Microsoft.Compute/virtualMachines';
export const VM_BASE = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}';

export type PowerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';

/** Emulator state of a VM (kept in `StoredResource.state`). */
export interface VmState {
  power: PowerState;
  generalized: boolean;
  disk?: string;
  osType: 'Linux' | 'Windows';
  hyperVGeneration?: 'V1' | 'V2';
  adminUsername?: string;
  computerName?: string;
  /** The guest removed its agent (a foreground deprovision): run commands can no longer report. */
  agentRemoved?: boolean;
  /** When the guest OS last booted (ISO time): what a simulated Windows guest reports as LastBootUpTime. */
  bootTime?: string;
  /** securityProfile.securityType (Standard when absent): what a capture from this VM must be accepted for. */
  securityType?: VmSecurityType;
}

export const vmState = (vm: StoredResource): VmState => vm.state as unknown as VmState;

const POWER_OPERATIONS = new Set(['virtualMachines.start', 'virtualMachines.restart', 'virtualMachines.powerOff', 'virtualMachines.deallocate']);

const EFFECT_CREATED = 'vm.created';
const EFFECT_POWER = 'vm.power';
const EFFECT_DELETE = 'vm.delete';

const POWER_TEXT: Record<PowerState, string> = {
  starting: 'VM starting', running: 'VM running', stopping: 'VM stopping', stopped: 'VM stopped',
  deallocating: 'VM deallocating', deallocated: 'VM deallocated',
};

/** Write-only fields Azure never echoes. */
function withoutSecrets(properties: Json): Json {
  const copy = structuredClone(properties);
  const osProfile = objectAt(copy, 'osProfile');
  if (osProfile) {
    delete osProfile.adminPassword;
    delete osProfile.customData;
  }
  delete copy.userData;
  return copy;
}

export function instanceView(resource: StoredResource): Json {
  const state = vmState(resource);
  const provisioning = String(resource.properties.provisioningState ?? 'Succeeded');
  const statuses: Json[] = [
    { code: `ProvisioningState/${provisioning.toLowerCase()}`, level: provisioning === 'Failed' ? 'Error' : 'Info', displayStatus: `Provisioning ${provisioning.toLowerCase()}`, time: resource.changedTime },
  ];
  if (provisioning !== 'Creating' && provisioning !== 'Failed') {
    statuses.push({ code: `PowerState/${state.power}`, level: 'Info', displayStatus: POWER_TEXT[state.power] });
  }
  if (state.generalized) statuses.push({ code: 'OSState/generalized', level: 'Info', displayStatus: 'VM generalized' });
  const view: Json = { computerName: state.computerName, osName: state.osType === 'Windows' ? 'Windows' : 'Linux', hyperVGeneration: state.hyperVGeneration ?? 'V1', statuses };
  if (state.power === 'running' && !state.agentRemoved) {
    view.vmAgent = { vmAgentVersion: '2.13.1.1', statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Ready', message: 'Guest Agent is running' }] };
  }
  return view;
}

const vmId = (p: Record<string, string>): string => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'virtualMachines', p.vm!);

function requireVm(ctx: HandlerContext, req: ArmRequest): StoredResource {
  return ctx.resources.require(req.params.sub!, req.params.rg!, vmId(req.params), VM_TYPE, req.params.vm!);
}

/** Disks being made since the PUT, by VM id: creation overlaps the VM's create latency and other requests. */
export class PendingDisks {
  readonly #byVm = new Map<string, Promise<string>>();

  start(ctx: HandlerContext, vm: StoredResource, source: DiskSource, osState: string): Promise<string> {
    const state = vmState(vm);
    const provisioning = osState === 'Generalized' ? { computerName: state.computerName ?? vm.name, adminUsername: state.adminUsername ?? 'azureuser' } : undefined;
    const pending = ctx.guest.createDisk(source, provisioning);
    // The effect awaits it; an early failure must not surface as an unhandled rejection meanwhile.
    pending.catch(() => undefined);
    this.#byVm.set(vm.id.toLowerCase(), pending);
    return pending;
  }

  /** The disk started for a VM, if any, forgotten here (the caller owns it now). */
  take(vmId: string): Promise<string> | undefined {
    const pending = this.#byVm.get(vmId.toLowerCase());
    this.#byVm.delete(vmId.toLowerCase());
    return pending;
  }
}

/**
 * A VM's creation completes: its disk (started at the PUT, or made now after a restart) and the running state. The VM
 * is read again after the disk work, so what requests wrote meanwhile (an update's tags, a delete) stays.
 */
async function completeCreate(ctx: HandlerContext, disks: PendingDisks, args: Json): Promise<{ fail: OperationFailure } | undefined> {
  const vm = ctx.resources.find(String(args.id));
  const pending = disks.take(String(args.id));
  if (!vm) {
    if (pending) await pending.then((disk) => ctx.guest.deleteDisk(disk)).catch(() => undefined);
    return { fail: errors.deletedWhileCreating('VM', String(args.id)) };
  }
  // After an emulator restart the head start is gone: the disk is made now.
  const disk = vmState(vm).disk ?? (await (pending ?? disks.start(ctx, vm, args.source as DiskSource, String(args.osState))));
  const current = ctx.resources.find(vm.id);
  if (!current) {
    // Deleted meanwhile (its group went): the disk made for it goes too.
    await ctx.guest.deleteDisk(disk);
    return { fail: errors.deletedWhileCreating('VM', vm.id) };
  }
  const state = vmState(current);
  state.disk = disk;
  // An update or a delete that came meanwhile keeps its own state until its operation ends.
  if (current.properties.provisioningState === 'Creating') current.properties.provisioningState = 'Succeeded';
  state.power = 'running';
  state.bootTime = new Date().toISOString();
  ctx.resources.save(current);
  return undefined;
}

/**
 * A power change completes: the VM reaches the final power state. A model update (no `power`) keeps the power state
 * the VM has by then: the one it had at the PUT may have moved since (a create completing, a guest shutting down).
 */
function completePower(ctx: HandlerContext, args: Json): void {
  const vm = ctx.resources.find(String(args.id));
  if (!vm) return;
  const state = vmState(vm);
  // Starting a running VM does not boot it again.
  if (args.power === 'running' && state.power !== 'running') state.bootTime = new Date().toISOString();
  if (args.power !== undefined) state.power = args.power as PowerState;
  if (args.power === 'running') state.agentRemoved = false;
  vm.properties.provisioningState = 'Succeeded';
  ctx.resources.save(vm);
}

export function createOrUpdateVirtualMachine(ctx: HandlerContext, req: ArmRequest, disks: PendingDisks): ArmResponse {
  const { sub, rg, vm: name } = req.params as { sub: string; rg: string; vm: string };
  validateName('virtualMachine', name);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const location = requiredLocation(body, VM_TYPE);
  const properties = objectAt(body, 'properties') ?? {};
  const id = vmId(req.params);
  // A VM whose creation failed is created again by a new PUT (as a retried deployment does).
  const failedCreate = ctx.resources.find(id);
  if (failedCreate && failedCreate.properties.provisioningState === 'Failed' && !vmState(failedCreate).disk) {
    forgetFailedCreate(ctx, failedCreate);
    ctx.resources.remove(id);
  }
  const existing = ctx.resources.find(id);
  if (existing) {
    if (existing.location !== location) throw errors.invalidResourceLocation(existing.name, rg, existing.location!, location);
    existing.tags = tagsOf(body) ?? existing.tags;
    existing.properties = { ...existing.properties, ...withoutSecrets({ ...properties, storageProfile: existing.properties.storageProfile, osProfile: existing.properties.osProfile, networkProfile: existing.properties.networkProfile }), provisioningState: 'Updating' };
    ctx.resources.save(existing);
    const op = beginOperation(ctx, req, { resourceId: id, location, style: 'compute', steps: [stepAfter(ctx, 'vmssModelUpdate', { kind: EFFECT_POWER, args: { id } })] });
    return acceptedWrite(req.origin, op, false, present(existing));
  }

  const hardware = objectAt(properties, 'hardwareProfile', 'properties.hardwareProfile');
  if (!hardware) throw errors.requiredParameterMissing('hardwareProfile');
  const vmSize = requiredString(hardware, 'vmSize', 'hardwareProfile.vmSize');
  const storage = objectAt(properties, 'storageProfile', 'properties.storageProfile') ?? {};
  const image = resolveImage(ctx, objectAt(storage, 'imageReference', 'storageProfile.imageReference'), location, body.plan);
  const size = checkVmSize(vmSize, location, image.hyperVGeneration);
  const securityType = vmSecurityType(properties);
  checkVmSecurity(securityType, { ...image, id: String(objectAt(storage, 'imageReference')?.id ?? '') });
  const osProfile = objectAt(properties, 'osProfile', 'properties.osProfile');
  if (image.osState === 'Generalized' && !osProfile) throw errors.requiredParameterMissing('osProfile');
  if (image.osState === 'Specialized' && osProfile) throw errors.parameterNotAllowed('osProfile');
  const adminUsername = osProfile ? requiredString(osProfile, 'adminUsername', 'osProfile.adminUsername') : undefined;
  const computerName = osProfile ? (stringAt(osProfile, 'computerName', 'osProfile.computerName') ?? name) : name;
  if (osProfile) checkOsProfile(osProfile, image.osType, computerName);
  checkOsDiskSize(objectAt(storage, 'osDisk', 'storageProfile.osDisk'), image.osDiskSizeGB);
  checkNetwork(ctx, properties, location, id);
  checkCoreQuota(ctx, req.params.sub!, location, size);

  // Azure names the OS disk as the request says, or `{vm}_OsDisk_1_{guid}`.
  const osDiskName = stringAt(objectAt(storage, 'osDisk') ?? {}, 'name', 'storageProfile.osDisk.name') ?? `${name}_OsDisk_1_${randomUUID().replace(/-/g, '')}`;
  const osDiskId = providerId(sub, rg, 'Microsoft.Compute', 'disks', osDiskName);
  if (ctx.resources.find(osDiskId)) throw errors.conflict(`A disk named '${osDiskName}' already exists in resource group '${rg}': a VM created from an image needs a new OS disk.`);
  const storageProfile: Json = {
    ...storage,
    imageReference: { ...(objectAt(storage, 'imageReference') ?? {}), ...(image.exactVersion ? { exactVersion: image.exactVersion } : {}) },
    osDisk: {
      ...(objectAt(storage, 'osDisk') ?? {}),
      osType: image.osType,
      name: osDiskName,
      createOption: 'FromImage',
      managedDisk: { ...((objectAt(storage, 'osDisk') ?? {}).managedDisk as Json | undefined), id: osDiskId },
    },
  };
  const state: VmState = { power: 'starting', generalized: false, osType: image.osType, hyperVGeneration: image.hyperVGeneration, adminUsername, computerName, securityType };
  // The NICs and the OS disk are resources of their own, held by the VM.
  const network = objectAt(properties, 'networkProfile', 'properties.networkProfile')!;
  const networkProfile = { ...network, networkInterfaces: attachVmNics(ctx, network, { id, resourceGroup: rg, location }) };
  createOsDisk(ctx, {
    id: osDiskId, resourceGroup: rg, location, vmId: id,
    osDisk: storageProfile.osDisk as Json, osType: image.osType, hyperVGeneration: image.hyperVGeneration, imageReference: storageProfile.imageReference as Json, sizeGB: image.osDiskSizeGB,
  });
  const vm = ctx.resources.create({
    id, name, type: VM_TYPE, resourceGroup: rg, location, tags: tagsOf(body),
    extra: pick(body, ['identity', 'zones', 'plan']),
    properties: { ...withoutSecrets(properties), storageProfile, networkProfile, vmId: randomUUID(), timeCreated: new Date().toISOString(), provisioningState: 'Creating' },
    state: state as unknown as Json,
  });
  const kind = image.osType === 'Windows' ? 'vmCreateWindows' : 'vmCreateLinux';
  const op = beginOperation(ctx, req, {
    resourceId: id, location, style: 'compute', markFailedOnFault: true,
    steps: [stepAfter(ctx, kind, { kind: EFFECT_CREATED, args: { id, source: image.source, osState: image.osState } })],
  });
  // No disk for a create that an injected fault will fail.
  if (op.steps.some((step) => step.effect.kind === EFFECT_CREATED)) void disks.start(ctx, vm, image.source, image.osState);
  return acceptedWrite(req.origin, op, true, present(vm));
}

export function getVirtualMachine(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const vm = requireVm(ctx, req);
  const expand = (req.query.get('$expand') ?? '').toLowerCase();
  return { status: 200, body: present(vm, expand === 'instanceview' ? { ...vm.properties, instanceView: instanceView(vm) } : vm.properties) };
}

/**
 * A newer power action preempts one in flight (its operation ends Failed with OperationPreempted, as Azure's does);
 * any other operation in flight on the VM (an update, a delete) refuses the action with 409.
 */
function preemptPowerActions(ctx: HandlerContext, vm: StoredResource, action: string): void {
  const inFlight = ctx.ops.running(vm.id).filter((op) => op.resourceId.toLowerCase() === vm.id.toLowerCase());
  const blocking = inFlight.find((op) => !POWER_OPERATIONS.has(op.operation));
  if (blocking) throw errors.operationNotAllowed(`Operation '${action}' is not allowed on VM '${vm.name}' since the VM is running operation '${blocking.operation}' (${blocking.id}). Retry after it completes.`);
  for (const op of inFlight) {
    ctx.ops.finish(op, { error: errors.operationPreempted(action) });
  }
}

/** A power action: checks Azure's rules, moves to the transitional state, ends in the final one. */
async function powerAction(ctx: HandlerContext, req: ArmRequest, action: 'start' | 'restart' | 'powerOff' | 'deallocate'): Promise<ArmResponse> {
  const vm = requireVm(ctx, req);
  const state = vmState(vm);
  if (vm.properties.provisioningState === 'Creating' || vm.properties.provisioningState === 'Deleting') {
    throw errors.operationNotAllowed(`Operation '${action}' is not allowed on VM '${vm.name}' since the VM is ${String(vm.properties.provisioningState).toLowerCase()}.`);
  }
  if ((action === 'start' || action === 'restart') && state.generalized) {
    throw errors.operationNotAllowed(`Operation '${action}' is not allowed on VM '${vm.name}' since the VM is generalized.`);
  }
  if (action === 'restart' && state.power !== 'running') {
    throw errors.operationNotAllowed(`Operation 'restart' is not allowed on VM '${vm.name}' since the VM is ${state.power}.`);
  }
  const plan = {
    start: { transitional: 'starting', final: 'running', kind: 'vmStart' },
    restart: { transitional: 'starting', final: 'running', kind: 'vmRestart' },
    powerOff: { transitional: 'stopping', final: 'stopped', kind: 'vmPowerOff' },
    deallocate: { transitional: 'deallocating', final: 'deallocated', kind: 'vmDeallocate' },
  }[action] as { transitional: PowerState; final: PowerState; kind: 'vmStart' | 'vmRestart' | 'vmPowerOff' | 'vmDeallocate' };
  preemptPowerActions(ctx, vm, action);
  // A stop or restart ends every guest process (a running script, a detached deprovision).
  if (action !== 'start' && state.disk) await ctx.guest.stopGuest(state.disk);
  // Read again after stopping the guest: what came meanwhile (a run's report, another action) stays or is preempted.
  const current = requireVm(ctx, req);
  preemptPowerActions(ctx, current, action);
  // Deallocating a stopped VM still goes through deallocating; starting a running VM is a no-op that succeeds.
  if (!(action === 'start' && vmState(current).power === 'running')) vmState(current).power = plan.transitional;
  current.properties.provisioningState = 'Updating';
  ctx.resources.save(current);
  const op = beginOperation(ctx, req, { resourceId: current.id, location: current.location!, style: 'compute', steps: [stepAfter(ctx, plan.kind, { kind: EFFECT_POWER, args: { id: current.id, power: plan.final } })] });
  return acceptedAction(req.origin, op);
}

export async function generalizeVirtualMachine(ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> {
  const vm = requireVm(ctx, req);
  const state = vmState(vm);
  if (ctx.ops.running(vm.id).length > 0) {
    throw errors.operationNotAllowed(`Operation 'generalize' is not allowed on VM '${vm.name}' since another operation is in progress.`);
  }
  if (state.power !== 'stopped' && state.power !== 'deallocated') {
    throw errors.operationNotAllowed(`Operation 'generalize' is not allowed on VM '${vm.name}' since the VM is ${state.power}. A VM shut down from inside the guest must still be powered off or deallocated through the API.`);
  }
  const startedAt = Date.now();
  if (state.disk) await ctx.guest.deprovision(state.disk);
  // Read again after the disk work: only the OS state is generalize's to write (an update meanwhile keeps its tags).
  const current = requireVm(ctx, req);
  vmState(current).generalized = true;
  ctx.resources.save(current);
  // A synchronous call, but real work on the disk: on the timeline, so a benchmark does not count it as the caller's.
  const endedAt = Date.now();
  ctx.ops.note({ operation: 'virtualMachines.generalize', resourceId: vm.id, status: 'Succeeded', startedAt, dueAt: endedAt, settledAt: endedAt });
  return { status: 200 };
}


export const deleteVirtualMachine = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  deleteHandler(ctx, { idOf: vmId, style: 'compute', latency: 'vmDeallocate', effect: EFFECT_DELETE })(req);
export const getVirtualMachineInstanceView = (ctx: HandlerContext, req: ArmRequest): ArmResponse => ({ status: 200, body: instanceView(requireVm(ctx, req)) });
export const startVirtualMachine = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => powerAction(ctx, req, 'start');
export const restartVirtualMachine = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => powerAction(ctx, req, 'restart');
export const powerOffVirtualMachine = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => powerAction(ctx, req, 'powerOff');
export const deallocateVirtualMachine = (ctx: HandlerContext, req: ArmRequest): Promise<ArmResponse> => powerAction(ctx, req, 'deallocate');

/** The effects VM operations apply when their time comes (also after an emulator restart). */
export function registerVirtualMachineEffects(ctx: HandlerContext, disks: PendingDisks): void {
  ctx.ops.registerEffect(EFFECT_CREATED, (args) => completeCreate(ctx, disks, args));
  ctx.ops.registerEffect(EFFECT_POWER, (args) => completePower(ctx, args));
  ctx.ops.registerEffect(EFFECT_DELETE, async (args, op) => {
    const vm = ctx.resources.find(String(args.id));
    if (vm) await releaseVmNics(ctx, vm);
    // Read again after the NICs went: the OS disk takes the contents the VM holds now.
    const current = ctx.resources.find(String(args.id));
    if (current) releaseVmOsDisk(ctx, current);
    await deleteTree(ctx, String(args.id), op.id);
  });
}

/** The route table: each operation's function, given the context (and the disks being made, which creation shares). */
export function virtualMachineRoutes(ctx: HandlerContext): Route[] {
  const disks = new PendingDisks();
  registerVirtualMachineEffects(ctx, disks);
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: VM_BASE, operation: 'virtualMachines.createOrUpdate', api: 'compute', handler: (req) => createOrUpdateVirtualMachine(ctx, req, disks) },
    { method: 'GET', pattern: VM_BASE, operation: 'virtualMachines.get', api: 'compute', handler: on(getVirtualMachine) },
    { method: 'DELETE', pattern: VM_BASE, operation: 'virtualMachines.delete', api: 'compute', handler: on(deleteVirtualMachine) },
    { method: 'GET', pattern: `${VM_BASE}/instanceView`, operation: 'virtualMachines.instanceView', api: 'compute', handler: on(getVirtualMachineInstanceView) },
    { method: 'POST', pattern: `${VM_BASE}/start`, operation: 'virtualMachines.start', api: 'compute', handler: on(startVirtualMachine) },
    { method: 'POST', pattern: `${VM_BASE}/restart`, operation: 'virtualMachines.restart', api: 'compute', handler: on(restartVirtualMachine) },
    { method: 'POST', pattern: `${VM_BASE}/powerOff`, operation: 'virtualMachines.powerOff', api: 'compute', handler: on(powerOffVirtualMachine) },
    { method: 'POST', pattern: `${VM_BASE}/deallocate`, operation: 'virtualMachines.deallocate', api: 'compute', handler: on(deallocateVirtualMachine) },
    { method: 'POST', pattern: `${VM_BASE}/generalize`, operation: 'virtualMachines.generalize', api: 'compute', handler: on(generalizeVirtualMachine) },
  ];
}

function pick(body: Json, fields: string[]): Json {
  return Object.fromEntries(fields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]));
}

/** Inline NICs need networkApiVersion; their subnets and the NICs referenced are checked as Network checks a NIC (checkVmNics). */
function checkNetwork(ctx: HandlerContext, properties: Json, location: string, vmId: string): void {
  const network = objectAt(properties, 'networkProfile', 'properties.networkProfile');
  if (!network) throw errors.requiredParameterMissing('networkProfile');
  const configs = network.networkInterfaceConfigurations;
  if (Array.isArray(configs) && configs.length > 0) {
    if (typeof network.networkApiVersion !== 'string') {
      throw errors.invalidParameter('networkApiVersion', "Required parameter 'networkProfile.networkApiVersion' is missing: it is needed with networkInterfaceConfigurations.");
    }
  } else if (!Array.isArray(network.networkInterfaces) || network.networkInterfaces.length === 0) {
    throw errors.invalidParameter('networkProfile', 'The VM needs networkProfile.networkInterfaces or networkProfile.networkInterfaceConfigurations (found neither).');
  }
  checkVmNics(ctx, network, location, vmId);
}

/** A VM whose creation failed is made again: the OS disk it was given goes, its NICs are free again. */
function forgetFailedCreate(ctx: HandlerContext, vm: StoredResource): void {
  const osDisk = ((vm.properties.storageProfile as Json | undefined)?.osDisk ?? {}) as Json;
  const diskId = (osDisk.managedDisk as Json | undefined)?.id;
  if (typeof diskId === 'string') ctx.resources.remove(diskId);
  for (const ref of (((vm.properties.networkProfile as Json | undefined)?.networkInterfaces as Json[] | undefined) ?? [])) {
    const nic = ctx.resources.find(String(ref.id));
    if (nic) {
      delete nic.properties.virtualMachine;
      ctx.resources.save(nic);
    }
  }
}

const WINDOWS_NAME_FORBIDDEN = /[`~!@#$%^&*()=+_[\]{}\\|;:.'",<>/?]/;

/** Azure's computer-name and authentication rules for the guest OS the image holds. */
function checkOsProfile(osProfile: Json, osType: 'Linux' | 'Windows', computerName: string): void {
  if (osType === 'Windows') {
    if (computerName.length > 15 || /^\d+$/.test(computerName) || WINDOWS_NAME_FORBIDDEN.test(computerName)) {
      throw errors.windowsComputerName(computerName);
    }
    return;
  }
  if (computerName.length > 64) {
    throw errors.linuxHostNameTooLong(computerName);
  }
  const linux = objectAt(osProfile, 'linuxConfiguration', 'osProfile.linuxConfiguration') ?? {};
  const keys = objectAt(linux, 'ssh', 'osProfile.linuxConfiguration.ssh')?.publicKeys;
  const hasKeys = Array.isArray(keys) && keys.length > 0;
  const passwordDisabled = linux.disablePasswordAuthentication === true;
  if ((passwordDisabled && !hasKeys) || (!hasKeys && typeof osProfile.adminPassword !== 'string')) {
    throw errors.linuxAuthenticationMissing();
  }
}

/** An explicit OS disk size below the image's is refused (Azure's wording). */
function checkOsDiskSize(osDisk: Json | undefined, imageSizeGB: number): void {
  const size = osDisk?.diskSizeGB;
  if (typeof size === 'number' && size < imageSizeGB) {
    throw errors.osDiskSmallerThanImage(size, imageSizeGB);
  }
}

/** vCPUs in use in one subscription's region per family and in total: VMs and scale-set instances (by their sku). */
export function coreUsage(ctx: HandlerContext, sub: string, location: string): { total: number; families: Map<string, number> } {
  const families = new Map<string, number>();
  let total = 0;
  // Quota is per subscription: only its resources are read.
  for (const r of ctx.resources.store.list<StoredResource>('resource', `/subscriptions/${sub}/`)) {
    if (r.location !== location) continue;
    const vmSizeName = r.type === VM_TYPE ? (r.properties.hardwareProfile as Json | undefined)?.vmSize
      : r.type === 'Microsoft.Compute/virtualMachineScaleSets' ? (r.extra?.sku as Json | undefined)?.name : undefined;
    const size = typeof vmSizeName === 'string' ? findVmSize(vmSizeName) : undefined;
    if (!size) continue;
    const count = r.type === VM_TYPE ? 1 : Number((r.extra?.sku as Json | undefined)?.capacity ?? 0);
    total += size.vCPUs * count;
    families.set(size.family, (families.get(size.family) ?? 0) + size.vCPUs * count);
  }
  return { total, families };
}

/** A VM that would take a region's vCPUs past the quota is refused before it is made. */
function checkCoreQuota(ctx: HandlerContext, sub: string, location: string, size: VmSize): void {
  const usage = coreUsage(ctx, sub, location);
  const checks = [
    { what: `${size.family} Cores`, used: usage.families.get(size.family) ?? 0, limit: ctx.coreLimits.family },
    { what: 'Total Regional Cores', used: usage.total, limit: ctx.coreLimits.total },
  ];
  for (const c of checks) {
    if (c.used + size.vCPUs > c.limit) {
      throw errors.coreQuotaExceeded({ what: c.what, location, limit: c.limit, used: c.used, required: size.vCPUs });
    }
  }
}
