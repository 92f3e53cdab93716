/** Managed images captured from a generalized VM: create (LRO), get, delete. */
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedWrite, type EffectResult } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, registerDeleteEffect } from '../release.ts';
import type { Route } from '../routes.ts';
import { bodyObject, objectAt, requiredLocation, requiredString, tagsOf, validateName, type Json } from '../validate.ts';
import { checkManagedImageSecurity } from './securityTypes.ts';
import { VM_TYPE, vmState } from './virtualMachines.ts';

const IMAGE_TYPE = 'Microsoft.Compute/images';
const BASE = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/images/{image}';
const EFFECT_CAPTURE = 'image.capture';
const EFFECT_DELETE = 'image.delete';

/** The VM a capture reads from: it must exist and be generalized (Azure refuses anything else). */
export function generalizedSourceVm(ctx: HandlerContext, vmId: string, operation: string): StoredResource {
  const vm = ctx.resources.find(vmId);
  if (!vm || vm.type !== VM_TYPE) {
    throw errors.sourceVirtualMachineNotFound(vmId);
  }
  if (!vmState(vm).generalized) {
    throw errors.operationNotAllowed(`The operation '${operation}' requires the Virtual Machine '${vm.name}' to be Generalized.`);
  }
  return vm;
}

const imageId = (p: Record<string, string>) => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'images', p.image!);

export function createOrUpdateImage(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, image: name } = req.params as { sub: string; rg: string; image: string };
  validateName('image', name);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const location = requiredLocation(body, IMAGE_TYPE);
  const properties = objectAt(body, 'properties') ?? {};
  const source = objectAt(properties, 'sourceVirtualMachine', 'properties.sourceVirtualMachine');
  if (!source) throw errors.invalidParameter('sourceVirtualMachine', "The emulator captures images from a VM: 'properties.sourceVirtualMachine.id' is required.");
  const vm = generalizedSourceVm(ctx, requiredString(source, 'id', 'properties.sourceVirtualMachine.id'), 'Create Image');
  const id = imageId(req.params);
  const existing = ctx.resources.find(id);
  if (existing) throw errors.conflict(`The image '${name}' already exists; a managed image cannot be recaptured. Delete it first.`);
  if (vm.location !== location) throw errors.regionMismatch('location', `image '${name}'`, location, `its source virtual machine '${vm.name}'`, vm.location ?? '');
  const osType = vmState(vm).osType;
  const generation = vmState(vm).hyperVGeneration ?? 'V1';
  checkManagedImageSecurity(vmState(vm).securityType ?? 'Standard');
  if (properties.hyperVGeneration !== undefined && properties.hyperVGeneration !== generation) {
    throw errors.propertyMismatch('properties.hyperVGeneration', 'Hyper-V generation', generation, String(properties.hyperVGeneration), `image '${name}'`);
  }
  const image = ctx.resources.create({
    id, name, type: IMAGE_TYPE, resourceGroup: rg, location, tags: tagsOf(body),
    properties: {
      sourceVirtualMachine: { id: vm.id },
      storageProfile: { osDisk: { osType, osState: 'Generalized', caching: 'ReadWrite', storageAccountType: 'Standard_LRS', managedDisk: { id: (vm.properties.storageProfile as { osDisk?: { managedDisk?: { id?: string } } }).osDisk?.managedDisk?.id } }, dataDisks: [] },
      hyperVGeneration: generation,
      provisioningState: 'Creating',
    },
  });
  const op = beginOperation(ctx, req, { resourceId: id, location, style: 'compute', markFailedOnFault: true, steps: [stepAfter(ctx, 'managedImageCreate', { kind: EFFECT_CAPTURE, args: { id, vmId: vm.id } })] });
  return acceptedWrite(req.origin, op, true, present(image));
}

export const getImage = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: present(ctx.resources.require(req.params.sub!, req.params.rg!, imageId(req.params), IMAGE_TYPE, req.params.image!)) });

export const deleteImage = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  deleteHandler(ctx, { idOf: imageId, style: 'compute', latency: 'managedImageCreate', effect: EFFECT_DELETE })(req);

/** The capture: the source VM's disk snapshotted into the image. */
async function captureImage(ctx: HandlerContext, args: Json): Promise<EffectResult> {
  const image = ctx.resources.find(String(args.id));
  const vm = ctx.resources.find(String(args.vmId));
  const disk = vm ? vmState(vm).disk : undefined;
  if (!image) return { fail: errors.deletedWhileCreating('image', String(args.id)) };
  if (!disk) return { fail: errors.goneDuringOperation('source VM (or its OS disk)', String(args.vmId)) };
  const taken = await snapshotFor(ctx, image.id, 'image', disk);
  if ('fail' in taken) return taken;
  taken.properties.provisioningState = 'Succeeded';
  ctx.resources.save(taken);
}

/**
 * Snapshots `disk` for the resource `id` being made, then reads that resource again: one deleted meanwhile (its group
 * went) is not made again, nor its snapshot kept; otherwise its fresh copy, snapshot set, for the caller to save.
 */
export async function snapshotFor(ctx: HandlerContext, id: string, what: string, disk: string): Promise<StoredResource | { fail: ReturnType<typeof errors.deletedWhileCreating> }> {
  const snapshot = await ctx.guest.snapshot(disk);
  const current = ctx.resources.find(id);
  if (!current) {
    await ctx.guest.deleteSnapshot(snapshot);
    return { fail: errors.deletedWhileCreating(what, id) };
  }
  current.state.snapshot = snapshot;
  return current;
}

/** The effects image operations apply when their time comes (also after an emulator restart). */
export function registerImageEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(EFFECT_CAPTURE, (args) => captureImage(ctx, args));
  registerDeleteEffect(ctx, EFFECT_DELETE);
}

/** The route table: each operation's function, given the context. */
export function imageRoutes(ctx: HandlerContext): Route[] {
  registerImageEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: BASE, operation: 'images.createOrUpdate', api: 'compute', handler: on(createOrUpdateImage) },
    { method: 'GET', pattern: BASE, operation: 'images.get', api: 'compute', handler: on(getImage) },
    { method: 'DELETE', pattern: BASE, operation: 'images.delete', api: 'compute', handler: on(deleteImage) },
  ];
}
