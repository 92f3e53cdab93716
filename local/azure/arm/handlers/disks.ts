/**
 * Managed OS disks as Azure shows them (each VM's, named in its storageProfile) and disk access: beginGetAccess
 * exports the disk as a fixed VHD behind a read SAS URL (in the storage beside the emulator), endGetAccess revokes it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beginOperation, stepAfter, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedAction } from '../lro.ts';
import { providerId, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { bodyObject, type Json } from '../validate.ts';
import { VM_TYPE, vmState } from './virtualMachines.ts';

const DISK_TYPE = 'Microsoft.Compute/disks';
const BASE = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{disk}';
const EFFECT_GRANT = 'disk.grantAccess';
const EFFECT_REVOKE = 'disk.revokeAccess';
/** The longest SAS the emulator hands out (a week). */
const MAX_ACCESS_SECONDS = 86_400 * 7;

const osDiskId = (vm: StoredResource): string | undefined =>
  (((vm.properties.storageProfile as Json | undefined)?.osDisk as Json | undefined)?.managedDisk as Json | undefined)?.id as string | undefined;

export function diskRoutes(ctx: HandlerContext): Route[] {
  const { resources } = ctx;
  const diskId = (p: Record<string, string>) => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'disks', p.disk!);

  /** The VM whose OS disk this is: a disk exists while its VM does. */
  const ownerOf = (req: ArmRequest): StoredResource => {
    const { sub, rg, disk } = req.params as Record<string, string>;
    resources.requireGroup(sub!, rg!);
    const id = diskId(req.params).toLowerCase();
    const vm = resources.below(providerId(sub!, rg!, 'Microsoft.Compute', 'virtualMachines'))
      .find((r) => r.type === VM_TYPE && osDiskId(r)?.toLowerCase() === id);
    if (!vm) throw errors.resourceNotFound(DISK_TYPE, disk!, rg!);
    return vm;
  };

  const present = (vm: StoredResource): Json => {
    const state = vmState(vm);
    const osDisk = ((vm.properties.storageProfile as Json).osDisk ?? {}) as Json;
    const id = osDiskId(vm)!;
    return {
      id, name: id.split('/').pop(), type: DISK_TYPE, location: vm.location, managedBy: vm.id,
      sku: { name: 'Premium_LRS', tier: 'Premium' },
      properties: {
        osType: state.osType, hyperVGeneration: state.hyperVGeneration ?? 'V1', diskSizeGB: osDisk.diskSizeGB ?? 30,
        diskState: vm.state.diskAccess ? 'ActiveSAS' : state.power === 'deallocated' ? 'Reserved' : 'Attached',
        provisioningState: 'Succeeded', timeCreated: vm.createdTime,
      },
    };
  };

  ctx.ops.registerEffect(EFFECT_GRANT, async (args) => {
    const vm = resources.find(String(args.vmId));
    const disk = vm ? vmState(vm).disk : undefined;
    if (!vm || !disk || !ctx.diskAccess) return { fail: { code: 'NotFound', message: `The disk of '${String(args.vmId)}' is gone.` } };
    const dir = await mkdtemp(join(tmpdir(), 'kiln-disk-access-'));
    try {
      const file = join(dir, 'disk.vhd');
      await ctx.guest.exportVhd(disk, file);
      const accessSAS = await ctx.diskAccess.publish(String(args.name), file, Number(args.seconds));
      vm.state.diskAccess = String(args.name);
      resources.save(vm);
      return { output: { accessSAS } };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  ctx.ops.registerEffect(EFFECT_REVOKE, async (args) => {
    const vm = resources.find(String(args.vmId));
    await ctx.diskAccess?.revoke(String(args.name));
    if (vm) {
      delete vm.state.diskAccess;
      resources.save(vm);
    }
  });

  const grant = (req: ArmRequest): ArmResponse => {
    const vm = ownerOf(req);
    const body = bodyObject(req.body);
    if (body.access !== 'Read' && body.access !== 'Write') {
      throw errors.invalidParameter('access', `Property 'access' must be Read or Write, found ${JSON.stringify(body.access)}.`);
    }
    const seconds = body.durationInSeconds;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_ACCESS_SECONDS) {
      throw errors.invalidParameter('durationInSeconds', `Property 'durationInSeconds' must be an integer from 1 to ${MAX_ACCESS_SECONDS}, found ${JSON.stringify(seconds)}.`);
    }
    const power = vmState(vm).power;
    if (power !== 'stopped' && power !== 'deallocated') {
      throw errors.operationNotAllowed(`Disk '${req.params.disk}' is attached to VM '${vm.id}' which is ${power}: stop or deallocate the VM to get access to its disk.`);
    }
    if (!ctx.diskAccess) throw errors.operationNotAllowed('Disk access needs storage beside the emulator (started without diskAccessStorage).');
    const op = beginOperation(ctx, req, {
      resourceId: diskId(req.params), location: vm.location!, style: 'compute',
      steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_GRANT, args: { vmId: vm.id, name: String(req.params.disk).toLowerCase(), seconds } })],
    });
    return acceptedAction(req.origin, op);
  };

  const revoke = (req: ArmRequest): ArmResponse => {
    const vm = ownerOf(req);
    const op = beginOperation(ctx, req, {
      resourceId: diskId(req.params), location: vm.location!, style: 'compute',
      steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_REVOKE, args: { vmId: vm.id, name: String(req.params.disk).toLowerCase() } })],
    });
    return acceptedAction(req.origin, op);
  };

  return [
    { method: 'GET', pattern: BASE, operation: 'disks.get', api: 'disk', handler: (req) => ({ status: 200, body: present(ownerOf(req)) }) },
    { method: 'POST', pattern: `${BASE}/beginGetAccess`, operation: 'disks.grantAccess', api: 'disk', handler: grant },
    { method: 'POST', pattern: `${BASE}/endGetAccess`, operation: 'disks.revokeAccess', api: 'disk', handler: revoke },
  ];
}

