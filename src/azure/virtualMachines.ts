/** The build VM: its create model (no public IP), power state, deallocate, generalize and delete. */

import type { ImageReference, VirtualMachine } from '@azure/arm-compute';
import type { AzureClients } from './clients.ts';
import { callAzure, getIfExists } from './errors.ts';
import { virtualMachineId } from './ids.ts';
import { startOperation, watchVmProvisioning, type OperationHandle } from './operations.ts';
import { vmReady, vmStateFromInstanceView, type VmState } from './vmState.ts';

export type OsType = 'Linux' | 'Windows';
export type { VmState };

/** Where the build VM's OS disk comes from, as the VM's imageReference wants it. */
export type VmImage =
  | { kind: 'platform'; publisher: string; offer: string; sku: string; version: string; plan?: { name: string; product: string; publisher: string } }
  | { kind: 'managedImage'; id: string }
  | { kind: 'galleryVersion'; id: string };

export interface BuildVmOptions {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  computerName: string;
  location: string;
  vmSize: string;
  osDiskSizeGB?: number;
  subnetId: string;
  userAssignedIdentities: string[];
  tags: Record<string, string>;
  osType: OsType;
  image: VmImage;
  /** A specialized source already has its identity: Azure forbids osProfile for it. */
  sourceIsSpecialized: boolean;
  trustedLaunch: boolean;
}

/** Nobody logs in to a build VM (Kiln talks to it through Run Command), so its login is thrown away at once. */
export type BuildVmLogin = { sshPublicKey: string } | { adminPassword: string };

export const BUILD_VM_ADMIN = 'kilnadmin';

export function imageReference(image: VmImage): ImageReference {
  switch (image.kind) {
    case 'platform':
      return { publisher: image.publisher, offer: image.offer, sku: image.sku, version: image.version };
    case 'managedImage':
    case 'galleryVersion':
      return { id: image.id };
  }
}

/** The VM model sent to Azure (SDK shape; the serializer nests it under `properties`). */
export function buildVmModel(o: BuildVmOptions, login: BuildVmLogin): VirtualMachine {
  const osProfile: VirtualMachine['osProfile'] = o.sourceIsSpecialized
    ? undefined
    : 'sshPublicKey' in login
      ? {
          computerName: o.computerName,
          adminUsername: BUILD_VM_ADMIN,
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            provisionVMAgent: true,
            ssh: { publicKeys: [{ path: `/home/${BUILD_VM_ADMIN}/.ssh/authorized_keys`, keyData: login.sshPublicKey }] },
          },
        }
      : {
          computerName: o.computerName,
          adminUsername: BUILD_VM_ADMIN,
          adminPassword: login.adminPassword,
          windowsConfiguration: { provisionVMAgent: true, enableAutomaticUpdates: false },
        };
  return {
    location: o.location,
    tags: o.tags,
    ...(o.image.kind === 'platform' && o.image.plan ? { plan: { ...o.image.plan } } : {}),
    ...(o.userAssignedIdentities.length > 0
      ? {
          identity: {
            type: 'UserAssigned',
            userAssignedIdentities: Object.fromEntries(o.userAssignedIdentities.map((id) => [id, {}])),
          },
        }
      : {}),
    hardwareProfile: { vmSize: o.vmSize },
    storageProfile: {
      imageReference: imageReference(o.image),
      osDisk: {
        createOption: 'FromImage',
        managedDisk: { storageAccountType: 'Premium_LRS' },
        deleteOption: 'Delete',
        ...(o.osDiskSizeGB !== undefined ? { diskSizeGB: o.osDiskSizeGB } : {}),
      },
    },
    ...(osProfile ? { osProfile } : {}),
    networkProfile: {
      networkApiVersion: '2022-11-01',
      networkInterfaceConfigurations: [
        {
          name: `${o.name}-nic`,
          primary: true,
          deleteOption: 'Delete',
          // No publicIPAddressConfiguration: the VM is reachable only through Run Command.
          ipConfigurations: [{ name: 'ipconfig1', primary: true, subnet: { id: o.subnetId } }],
        },
      ],
    },
    ...(o.trustedLaunch
      ? { securityProfile: { securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } } }
      : {}),
  };
}

export async function getVm(clients: AzureClients, resourceGroup: string, name: string): Promise<VirtualMachine | undefined> {
  const id = virtualMachineId(clients.subscriptionId, resourceGroup, name);
  return getIfExists('read virtual machine', id, () => clients.compute.virtualMachines.get(resourceGroup, name));
}

/**
 * Starts creating the build VM. A VM that already exists (a repeated activity) is not sent again, because its
 * login cannot change: the caller waits for its provisioning instead.
 */
export async function startCreateVm(clients: AzureClients, o: BuildVmOptions, login: () => Promise<BuildVmLogin>): Promise<OperationHandle | undefined> {
  const id = virtualMachineId(o.subscriptionId, o.resourceGroup, o.name);
  const existing = await getVmState(clients, o.resourceGroup, o.name);
  if (existing.exists && existing.provisioningState !== 'Failed') {
    // Ready means provisioned and running: a Run Command sent to a VM still starting is refused.
    return vmReady(existing) ? undefined : watchVmProvisioning(id);
  }
  const model = buildVmModel(o, await login());
  return startOperation(() => clients.compute.virtualMachines.createOrUpdate(o.resourceGroup, o.name, model), {
    action: 'create virtual machine',
    resourceId: id,
    api: 'compute',
  });
}

export async function getVmState(clients: AzureClients, resourceGroup: string, name: string): Promise<VmState> {
  const id = virtualMachineId(clients.subscriptionId, resourceGroup, name);
  const vm = await getIfExists('read virtual machine', id, () =>
    clients.compute.virtualMachines.get(resourceGroup, name, { expand: 'instanceView' }),
  );
  if (!vm) return { exists: false, generalized: false };
  return vmStateFromInstanceView(vm.instanceView, vm.provisioningState);
}

/** Starts deallocating; undefined when the VM is already deallocated ("already deallocated" is success). */
export async function startDeallocate(clients: AzureClients, resourceGroup: string, name: string): Promise<OperationHandle | undefined> {
  const id = virtualMachineId(clients.subscriptionId, resourceGroup, name);
  const state = await getVmState(clients, resourceGroup, name);
  if (state.powerState === 'deallocated' || state.generalized) return undefined;
  return startOperation(() => clients.compute.virtualMachines.deallocate(resourceGroup, name), {
    action: 'deallocate virtual machine',
    resourceId: id,
    api: 'compute',
  });
}

/** Marks the (stopped or deallocated) VM generalized; a VM already generalized is left as it is. */
export async function generalizeVm(clients: AzureClients, resourceGroup: string, name: string): Promise<void> {
  const id = virtualMachineId(clients.subscriptionId, resourceGroup, name);
  const state = await getVmState(clients, resourceGroup, name);
  if (state.generalized) return;
  await callAzure('generalize virtual machine', id, () => clients.compute.virtualMachines.generalize(resourceGroup, name));
}

/** Starts deleting the VM (its NIC and OS disk go with it: deleteOption Delete); undefined when it is gone. */
export async function startDeleteVm(clients: AzureClients, resourceGroup: string, name: string): Promise<OperationHandle | undefined> {
  const id = virtualMachineId(clients.subscriptionId, resourceGroup, name);
  if (!(await getVm(clients, resourceGroup, name))) return undefined;
  return startOperation(() => clients.compute.virtualMachines.delete(resourceGroup, name, { forceDeletion: true }), {
    action: 'delete virtual machine',
    resourceId: id,
    api: 'compute',
  });
}
