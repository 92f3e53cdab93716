/**
 * Managed disks (VMs' OS disks, osDisks.ts): get, list, delete (not while attached) and disk access: beginGetAccess
 * exports the disk as a fixed VHD behind a read SAS URL (in the storage beside the emulator), endGetAccess revokes it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beginOperation, stepAfter, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedAction } from '../lro.ts';
import { present as presentResource, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, deleteTree } from '../release.ts';
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

export function diskRoutes(ctx: HandlerContext): Route[] {
  const { resources } = ctx;
  const diskId = (p: Record<string, string>) => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'disks', p.disk!);

  const requireDisk = (req: ArmRequest): StoredResource =>
    resources.require(req.params.sub!, req.params.rg!, diskId(req.params), DISK_TYPE, req.params.disk!);

  /** The VM holding the disk, if any. */
  const vmOf = (disk: StoredResource): StoredResource | undefined => {
    const id = diskHolder(disk);
    return id ? resources.find(id) : undefined;
  };

  /** Where the disk's contents are: on its VM while attached, on the disk itself once left by a deleted VM. */
  const contentsOf = (disk: StoredResource): string | undefined => {
    const vm = vmOf(disk);
    const contents = vm ? vmState(vm).disk : disk.state.disk;
    return typeof contents === 'string' ? contents : undefined;
  };

  const present = (disk: StoredResource): Json => {
    const vm = vmOf(disk);
    const diskState = disk.state.diskAccess ? 'ActiveSAS' : !vm ? 'Unattached' : vmState(vm).power === 'deallocated' ? 'Reserved' : 'Attached';
    return presentResource(disk, { ...disk.properties, diskState });
  };

  ctx.ops.registerEffect(EFFECT_GRANT, async (args) => {
    const disk = resources.find(String(args.diskId));
    const contents = disk ? contentsOf(disk) : undefined;
    if (!disk || !contents || !ctx.diskAccess) return { fail: { code: 'NotFound', message: `The disk '${String(args.diskId)}' is gone.` } };
    const dir = await mkdtemp(join(tmpdir(), 'kiln-disk-access-'));
    try {
      const file = join(dir, 'disk.vhd');
      await ctx.guest.exportVhd(contents, file);
      const accessSAS = await ctx.diskAccess.publish(String(args.name), file, Number(args.seconds));
      disk.state.diskAccess = String(args.name);
      resources.save(disk);
      return { output: { accessSAS } };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  ctx.ops.registerEffect(EFFECT_REVOKE, async (args) => {
    const disk = resources.find(String(args.diskId));
    await ctx.diskAccess?.revoke(String(args.name));
    if (disk) {
      delete disk.state.diskAccess;
      resources.save(disk);
    }
  });
  ctx.ops.registerEffect(EFFECT_DELETE, (args, op) => deleteTree(ctx, String(args.id), op.id));

  const grant = (req: ArmRequest): ArmResponse => {
    const disk = requireDisk(req);
    const body = bodyObject(req.body);
    if (body.access !== 'Read' && body.access !== 'Write') {
      throw errors.invalidParameter('access', `Property 'access' must be Read or Write, found ${JSON.stringify(body.access)}.`);
    }
    const seconds = body.durationInSeconds;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_ACCESS_SECONDS) {
      throw errors.invalidParameter('durationInSeconds', `Property 'durationInSeconds' must be an integer from 1 to ${MAX_ACCESS_SECONDS}, found ${JSON.stringify(seconds)}.`);
    }
    const vm = vmOf(disk);
    const power = vm ? vmState(vm).power : undefined;
    if (vm && power !== 'stopped' && power !== 'deallocated') {
      throw errors.operationNotAllowed(`Disk '${req.params.disk}' is attached to VM '${vm.id}' which is ${power}: stop or deallocate the VM to get access to its disk.`);
    }
    if (!ctx.diskAccess) throw errors.operationNotAllowed('Disk access needs storage beside the emulator (started without diskAccessStorage).');
    const op = beginOperation(ctx, req, {
      resourceId: disk.id, location: disk.location!, style: 'compute',
      steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_GRANT, args: { diskId: disk.id, name: String(req.params.disk).toLowerCase(), seconds } })],
    });
    return acceptedAction(req.origin, op);
  };

  const revoke = (req: ArmRequest): ArmResponse => {
    const disk = requireDisk(req);
    const op = beginOperation(ctx, req, {
      resourceId: disk.id, location: disk.location!, style: 'compute',
      steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_REVOKE, args: { diskId: disk.id, name: String(req.params.disk).toLowerCase() } })],
    });
    return acceptedAction(req.origin, op);
  };

  const list = (req: ArmRequest): ArmResponse => {
    const group = resources.requireGroup(req.params.sub!, req.params.rg!);
    return { status: 200, body: { value: resources.below(group.id).filter((r) => r.type === DISK_TYPE).map(present) } };
  };

  const remove = deleteHandler(ctx, { idOf: diskId, style: 'compute', latency: 'networkResourceCreate', effect: EFFECT_DELETE, refuse: refuseAttachedDisk });

  return [
    { method: 'GET', pattern: BASE, operation: 'disks.get', api: 'disk', handler: (req) => ({ status: 200, body: present(requireDisk(req)) }) },
    { method: 'DELETE', pattern: BASE, operation: 'disks.delete', api: 'disk', handler: remove },
    { method: 'GET', pattern: '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks', operation: 'disks.listByResourceGroup', api: 'disk', handler: list },
    { method: 'POST', pattern: `${BASE}/beginGetAccess`, operation: 'disks.grantAccess', api: 'disk', handler: grant },
    { method: 'POST', pattern: `${BASE}/endGetAccess`, operation: 'disks.revokeAccess', api: 'disk', handler: revoke },
  ];
}
