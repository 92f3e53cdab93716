/**
 * Managed disks (VMs' OS disks, osDisks.ts): get, list, delete (not while attached) and disk access: beginGetAccess
 * exports the disk as a fixed VHD behind a read SAS URL (in the storage beside the emulator), endGetAccess revokes it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedAction } from '../lro.ts';
import { present as presentResource, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, registerDeleteEffect } from '../release.ts';
import type { Route } from '../routes.ts';
import { bodyObject, type Json } from '../validate.ts';
import { DISK_TYPE, diskHolder, refuseAttachedDisk } from './osDisks.ts';
import { vmState } from './virtualMachines.ts';

const BASE = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{disk}';
const EFFECT_GRANT = 'disk.grantAccess';
const EFFECT_REVOKE = 'disk.revokeAccess';
const EFFECT_DELETE = 'disk.delete';
/** The longest SAS the emulator hands out (a week). */
const MAX_ACCESS_SECONDS = 86_400 * 7;

const diskId = (p: Record<string, string>): string => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'disks', p.disk!);

/** The exported VHD's blob name: from the disk's whole id, so same-named disks in other groups never share one. */
const exportName = (id: string): string => createHash('sha256').update(id.toLowerCase()).digest('hex').slice(0, 32);

const requireDisk = (ctx: HandlerContext, req: ArmRequest): StoredResource =>
  ctx.resources.require(req.params.sub!, req.params.rg!, diskId(req.params), DISK_TYPE, req.params.disk!);

/** The VM holding the disk, if any. */
function vmOf(ctx: HandlerContext, disk: StoredResource): StoredResource | undefined {
  const id = diskHolder(disk);
  return id ? ctx.resources.find(id) : undefined;
}

/** Where the disk's contents are: on its VM while attached, on the disk itself once left by a deleted VM. */
function contentsOf(ctx: HandlerContext, disk: StoredResource): string | undefined {
  const vm = vmOf(ctx, disk);
  const contents = vm ? vmState(vm).disk : disk.state.disk;
  return typeof contents === 'string' ? contents : undefined;
}

function presentDisk(ctx: HandlerContext, disk: StoredResource): Json {
  const vm = vmOf(ctx, disk);
  const diskState = disk.state.diskAccess ? 'ActiveSAS' : !vm ? 'Unattached' : vmState(vm).power === 'deallocated' ? 'Reserved' : 'Attached';
  return presentResource(disk, { ...disk.properties, diskState });
}

export const getDisk = (ctx: HandlerContext, req: ArmRequest): ArmResponse => ({ status: 200, body: presentDisk(ctx, requireDisk(ctx, req)) });

export function listDisks(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const group = ctx.resources.requireGroup(req.params.sub!, req.params.rg!);
  return { status: 200, body: { value: ctx.resources.below(group.id).filter((r) => r.type === DISK_TYPE).map((d) => presentDisk(ctx, d)) } };
}

export const deleteDisk = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  deleteHandler(ctx, { idOf: diskId, style: 'compute', latency: 'networkResourceCreate', effect: EFFECT_DELETE, refuse: refuseAttachedDisk })(req);

export function grantDiskAccess(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const disk = requireDisk(ctx, req);
  const body = bodyObject(req.body);
  if (body.access !== 'Read' && body.access !== 'Write') {
    throw errors.invalidParameter('access', `Property 'access' must be Read or Write, found ${JSON.stringify(body.access)}.`);
  }
  const seconds = body.durationInSeconds;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_ACCESS_SECONDS) {
    throw errors.invalidParameter('durationInSeconds', `Property 'durationInSeconds' must be an integer from 1 to ${MAX_ACCESS_SECONDS}, found ${JSON.stringify(seconds)}.`);
  }
  const vm = vmOf(ctx, disk);
  const power = vm ? vmState(vm).power : undefined;
  if (vm && power !== 'stopped' && power !== 'deallocated') {
    throw errors.operationNotAllowed(`Disk '${req.params.disk}' is attached to VM '${vm.id}' which is ${power}: stop or deallocate the VM to get access to its disk.`);
  }
  if (!ctx.diskAccess) throw errors.operationNotAllowed('Disk access needs storage beside the emulator (started without diskAccessStorage).');
  const op = beginOperation(ctx, req, {
    resourceId: disk.id, location: disk.location!, style: 'compute',
    steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_GRANT, args: { diskId: disk.id, name: exportName(disk.id), seconds } })],
  });
  return acceptedAction(req.origin, op);
}

export function revokeDiskAccess(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const disk = requireDisk(ctx, req);
  const op = beginOperation(ctx, req, {
    resourceId: disk.id, location: disk.location!, style: 'compute',
    steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_REVOKE, args: { diskId: disk.id, name: exportName(disk.id) } })],
  });
  return acceptedAction(req.origin, op);
}

/** The effects disk operations apply when their time comes: the VHD published or revoked, the disk deleted. */
export function registerDiskEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(EFFECT_GRANT, async (args) => {
    const disk = ctx.resources.find(String(args.diskId));
    const contents = disk ? contentsOf(ctx, disk) : undefined;
    if (!disk || !contents || !ctx.diskAccess) return { fail: errors.goneDuringOperation('disk', String(args.diskId)) };
    const dir = await mkdtemp(join(tmpdir(), 'kiln-disk-access-'));
    try {
      const file = join(dir, 'disk.vhd');
      await ctx.guest.exportVhd(contents, file);
      const accessSAS = await ctx.diskAccess.publish(String(args.name), file, Number(args.seconds));
      // Read again after the export: a VM deleted meanwhile left its contents on the disk, and a disk deleted
      // meanwhile (its group went) gets no access (the VHD just published is taken back).
      const current = ctx.resources.find(disk.id);
      if (!current) {
        await ctx.diskAccess.revoke(String(args.name));
        return { fail: errors.goneDuringOperation('disk', disk.id) };
      }
      current.state.diskAccess = String(args.name);
      ctx.resources.save(current);
      return { output: { accessSAS } };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  ctx.ops.registerEffect(EFFECT_REVOKE, async (args) => {
    await ctx.diskAccess?.revoke(String(args.name));
    // Read after the revoke, so what was written meanwhile stays.
    const disk = ctx.resources.find(String(args.diskId));
    if (disk) {
      delete disk.state.diskAccess;
      ctx.resources.save(disk);
    }
  });
  registerDeleteEffect(ctx, EFFECT_DELETE);
}

/** The route table: each operation's function, given the context. */
export function diskRoutes(ctx: HandlerContext): Route[] {
  registerDiskEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'GET', pattern: BASE, operation: 'disks.get', api: 'disk', handler: on(getDisk) },
    { method: 'DELETE', pattern: BASE, operation: 'disks.delete', api: 'disk', handler: on(deleteDisk) },
    { method: 'GET', pattern: '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks', operation: 'disks.listByResourceGroup', api: 'disk', handler: on(listDisks) },
    { method: 'POST', pattern: `${BASE}/beginGetAccess`, operation: 'disks.grantAccess', api: 'disk', handler: on(grantDiskAccess) },
    { method: 'POST', pattern: `${BASE}/endGetAccess`, operation: 'disks.revokeAccess', api: 'disk', handler: on(revokeDiskAccess) },
  ];
}
