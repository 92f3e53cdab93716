// Shared setup for the emulator conformance tests: an emulator in a temp home and the real SDK clients pointed at it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ResourceManagementClient } from '@azure/arm-resources';
import { randomUUID } from 'node:crypto';
import { LOCAL_SUBSCRIPTION_ID, startAzureEmulator, type AzureEmulator, type AzureEmulatorOptions } from '../../local/azure/index.ts';

export const SEED = join(import.meta.dirname, '..', '..', 'local', 'environment.json');
export const NETWORK_API = '2024-05-01';
/** Pollers in tests check often (the SDK's default is every 2 s). */
export const FAST_POLL = { updateIntervalInMs: 20 };

export interface TestEmulator {
  home: string;
  emulator: AzureEmulator;
  compute: ComputeManagementClient;
  resources: ResourceManagementClient;
  /** `/subscriptions/{sub}/resourceGroups/{rest}` */
  id(rest: string): string;
  /** Stops the emulator (keeping its home) and starts it again on the same home. */
  restart(): Promise<void>;
  /** Drops the emulator as kill -9 would (its guests run on), waits `downMs`, and starts it again on the same home. */
  crash(downMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestEmulator(options: Omit<AzureEmulatorOptions, 'home'> = {}): Promise<TestEmulator> {
  const home = await mkdtemp(join(tmpdir(), 'kiln-emulator-'));
  const start = () => startAzureEmulator({ profile: 'zero', log: () => {}, ...options, home });
  const clientsFor = (emulator: AzureEmulator) => {
    const credential = { getToken: async () => ({ token: emulator.token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const clientOptions = { endpoint: emulator.armEndpoint, credentials: { scopes: [`${emulator.armEndpoint}/.default`] }, tlsOptions: { ca: emulator.caPem } };
    return {
      compute: new ComputeManagementClient(credential, emulator.subscriptionId, clientOptions),
      resources: new ResourceManagementClient(credential, emulator.subscriptionId, clientOptions),
    };
  };
  const emulator = await start();
  await makeTestNetwork(clientsFor(emulator).resources);
  const test: TestEmulator = {
    home,
    emulator,
    ...clientsFor(emulator),
    id: (rest) => `/subscriptions/${test.emulator.subscriptionId}/resourceGroups/${rest}`,
    async restart() {
      await test.emulator.close();
      test.emulator = await start();
      Object.assign(test, clientsFor(test.emulator));
    },
    async crash(downMs) {
      await test.emulator.close({ stopGuests: false });
      await new Promise((resolve) => setTimeout(resolve, downMs));
      test.emulator = await start();
      Object.assign(test, clientsFor(test.emulator));
    },
    async close() {
      await test.emulator.close();
      await rm(home, { recursive: true, force: true });
    },
  };
  return test;
}

/** The RestError fields tests assert on (code, statusCode), or the plain Error an LRO failure throws. */
export async function failure(promise: Promise<unknown>): Promise<{ code?: string; statusCode?: number; message: string; name: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; statusCode?: number; message: string; name: string };
    return { code: e.code, statusCode: e.statusCode, message: e.message, name: e.name };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** The regions test VMs use: each gets a VNet in the `test-network` group, made when the test emulator starts. */
const TEST_NETWORK_REGIONS = ['eastus', 'westeurope', 'northeurope', 'westus'];
const testSubnetId = (location: string) =>
  `/subscriptions/${LOCAL_SUBSCRIPTION_ID}/resourceGroups/test-network/providers/Microsoft.Network/virtualNetworks/${location}-vnet/subnets/default`;

/** A NIC needs a subnet in its region (as on Azure): the subnets a test VM gets when the test names none. */
async function makeTestNetwork(resources: ResourceManagementClient): Promise<void> {
  await resources.resourceGroups.createOrUpdate('test-network', { location: 'eastus' });
  await Promise.all(TEST_NETWORK_REGIONS.map((location) => resources.resources.beginCreateOrUpdateByIdAndWait(
    testSubnetId(location).replace(/^\/|\/subnets\/default$/g, ''), NETWORK_API,
    { location, properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }] } }, FAST_POLL,
  )));
}

/** A VM body the emulator accepts: an inline NIC (its own name, deleted with the VM) on the given subnet or the test network's. */
export function vmModel(options: { image: Record<string, unknown>; subnetId?: string; osProfile?: boolean; location?: string; name?: string }) {
  return {
    location: options.location ?? 'eastus',
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: { imageReference: options.image, osDisk: { createOption: 'FromImage' as const } },
    ...(options.osProfile === false ? {} : { osProfile: { computerName: options.name ?? 'vm', adminUsername: 'azureuser', adminPassword: 'Secret-Passw0rd!' } }),
    networkProfile: {
      networkApiVersion: '2022-11-01' as const,
      networkInterfaceConfigurations: [{
        name: `nic-${randomUUID().slice(0, 8)}`, primary: true, deleteOption: 'Delete' as const,
        ipConfigurations: [{ name: 'ip', subnet: { id: options.subnetId ?? testSubnetId(options.location ?? 'eastus') } }],
      }],
    },
  };
}

export const UBUNTU = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };
