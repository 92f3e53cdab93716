/**
 * ARM emulator benchmark (`npm run bench:emulator`): operations per second and p50/p99 latency through the real
 * @azure/arm-compute and @azure/arm-resources clients on the `zero` latency profile. Prints figures; asserts nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ResourceManagementClient } from '@azure/arm-resources';
import { startAzureEmulator } from '../local/azure/index.ts';

const READS = Number(process.env.BENCH_READS ?? 2_000);
const WRITES = Number(process.env.BENCH_WRITES ?? 200);
const VMS = Number(process.env.BENCH_VMS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const POLL = { updateIntervalInMs: 1 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Runs `count` calls, `concurrency` at a time; prints n, p50, p99 and throughput. */
async function measure(label: string, count: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<void> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await call(i);
        samples.push(performance.now() - t0);
      }
    }),
  );
  const total = performance.now() - started;
  const sorted = samples.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(46)} n=${String(count).padEnd(5)} c=${String(concurrency).padEnd(3)} p50 ${percentile(sorted, 50).toFixed(1).padStart(7)} ms  p99 ${percentile(sorted, 99).toFixed(1).padStart(7)} ms  ${((count / total) * 1000).toFixed(0).padStart(6)} ops/s`,
  );
}

const home = mkdtempSync(join(tmpdir(), 'kiln-bench-emulator-'));
const seedStart = performance.now();
const emulator = await startAzureEmulator({ home, profile: 'zero', seedFile: join(import.meta.dirname, '..', 'local', 'environment.json'), log: () => {} });
console.log(`emulator start with the local-environment seed: ${(performance.now() - seedStart).toFixed(0)} ms`);
try {
  const credential = { getToken: async () => ({ token: emulator.token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const options = { endpoint: emulator.armEndpoint, tlsOptions: { ca: emulator.caPem } };
  const compute = new ComputeManagementClient(credential, emulator.subscriptionId, options);
  const resources = new ResourceManagementClient(credential, emulator.subscriptionId, options);
  await resources.resourceGroups.createOrUpdate('bench', { location: 'eastus' });
  // A NIC needs a subnet in its region, as on Azure.
  const vnetId = `/subscriptions/${emulator.subscriptionId}/resourceGroups/bench/providers/Microsoft.Network/virtualNetworks/bench`;
  await resources.resources.beginCreateOrUpdateByIdAndWait(vnetId.slice(1), '2024-05-01', { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }] } }, POLL);
  const nic = { name: 'nic', primary: true, deleteOption: 'Delete' as const, ipConfigurations: [{ name: 'ip', subnet: { id: `${vnetId}/subnets/default` } }] };
  const vmBody = (name: string) => ({
    location: 'eastus',
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' } },
    osProfile: { computerName: name, adminUsername: 'azureuser', adminPassword: 'Bench-Passw0rd!' },
    networkProfile: { networkApiVersion: '2022-11-01' as const, networkInterfaceConfigurations: [{ ...nic, name: `${name}-nic` }] },
  });
  await compute.virtualMachines.createOrUpdate('bench', 'reader', vmBody('reader'), POLL);

  for (const concurrency of [1, CONCURRENCY]) {
    await measure('resourceGroups.get', READS, concurrency, () => resources.resourceGroups.get('bench'));
    await measure('virtualMachines.get ($expand=instanceView)', READS, concurrency, () => compute.virtualMachines.get('bench', 'reader', { expand: 'instanceView' }));
    await measure('galleryImageVersions.get ($expand=Replication)', READS, concurrency, () => compute.galleryImageVersions.get('kiln-images', 'kilnGallery', 'ubuntu-web', '1.0.0', { expand: 'ReplicationStatus' }));
    await measure('virtualMachineScaleSetVMs.list (instanceView)', READS / 4, concurrency, async () => {
      for await (const _ of compute.virtualMachineScaleSetVMs.list('web-prod', 'web-vmss', { expand: 'instanceView' }));
    });
    await measure('resourceGroups.createOrUpdate', WRITES, concurrency, (i) => resources.resourceGroups.createOrUpdate(`bench-${concurrency}-${i}`, { location: 'eastus' }));
    await measure('virtualMachines.powerOff + start (2 LROs)', WRITES / 2, 1, async () => {
      await compute.virtualMachines.powerOff('bench', 'reader', POLL);
      await compute.virtualMachines.start('bench', 'reader', POLL);
    });
    await measure('virtualMachines.createOrUpdate + delete (LROs)', VMS, concurrency, async (i) => {
      await compute.virtualMachines.createOrUpdate('bench', `vm-${concurrency}-${i}`, vmBody(`vm${i}`), POLL);
      await compute.virtualMachines.delete('bench', `vm-${concurrency}-${i}`, POLL);
    });
  }
} finally {
  await emulator.close();
  rmSync(home, { recursive: true, force: true });
}
