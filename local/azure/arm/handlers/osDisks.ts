/**
 * A VM's OS disk as a resource of its own (`Microsoft.Compute/disks`): made with the VM, held by it (`managedBy`), and
 * when the VM is deleted either deleted with it (deleteOption Delete) or left unattached with its contents, as on Azure.
 */
import type { HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { StoredResource } from '../resources.ts';
import { isObject, type Json } from '../validate.ts';

export const DISK_TYPE = 'Microsoft.Compute/disks';

/** The OS disk id a VM's storage profile names. */
export const osDiskIdOf = (vm: StoredResource): string | undefined =>
  (((vm.properties.storageProfile as Json | undefined)?.osDisk as Json | undefined)?.managedDisk as Json | undefined)?.id as string | undefined;

/** The disk resource made with a VM: Azure's defaults where the request said nothing. */
export function createOsDisk(ctx: HandlerContext, init: { id: string; resourceGroup: string; location: string; vmId: string; osDisk: Json; osType: string; hyperVGeneration?: string; imageReference: Json; sizeGB: number }): void {
  const managed = isObject(init.osDisk.managedDisk) ? init.osDisk.managedDisk : {};
  const skuName = typeof managed.storageAccountType === 'string' ? managed.storageAccountType : 'Premium_LRS';
  ctx.resources.create({
    id: init.id, name: init.id.split('/').pop()!, type: DISK_TYPE, resourceGroup: init.resourceGroup, location: init.location,
    extra: { managedBy: init.vmId, sku: { name: skuName, tier: skuName.startsWith('Premium') ? 'Premium' : 'Standard' } },
    properties: {
      osType: init.osType, hyperVGeneration: init.hyperVGeneration ?? 'V1', diskSizeGB: typeof init.osDisk.diskSizeGB === 'number' ? init.osDisk.diskSizeGB : init.sizeGB,
      creationData: { createOption: 'FromImage', imageReference: init.imageReference },
      provisioningState: 'Succeeded', timeCreated: new Date().toISOString(),
    },
  });
}

/** The VM holding a disk, if any. */
export const diskHolder = (disk: StoredResource): string | undefined => (typeof disk.extra?.managedBy === 'string' ? disk.extra.managedBy : undefined);

/** An attached disk cannot be deleted (Compute: 409 OperationNotAllowed). */
export function refuseAttachedDisk(disk: StoredResource): void {
  const vmId = diskHolder(disk);
  if (vmId) throw errors.diskAttached(disk.name, vmId);
}

/**
 * A VM going away: its OS disk goes too with deleteOption Delete (the VM's own release frees the contents); otherwise
 * the disk keeps the contents (moved from the VM's state) and stays, unattached.
 */
export function releaseVmOsDisk(ctx: HandlerContext, vm: StoredResource): void {
  const id = osDiskIdOf(vm);
  const disk = id ? ctx.resources.find(id) : undefined;
  if (!disk || diskHolder(disk)?.toLowerCase() !== vm.id.toLowerCase()) return;
  const osDisk = (vm.properties.storageProfile as Json).osDisk as Json;
  if (osDisk.deleteOption === 'Delete') {
    ctx.resources.remove(disk.id);
    return;
  }
  if (typeof vm.state.disk === 'string') {
    disk.state.disk = vm.state.disk;
    delete vm.state.disk;
    ctx.resources.save(vm);
  }
  delete disk.extra!.managedBy;
  ctx.resources.save(disk);
}
