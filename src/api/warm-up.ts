/**
 * What a worker prepares before its first invocation (an appStart hook: Azure's worker, and the local host, run it
 * before they invoke anything): the stores' containers (Run Command output's too), the build VM's key, and one parse
 * of a small template, so the first request and the first bake do not pay for them. Measured on a fresh process: the
 * first parse of a template costs ~40 ms (compiling the schema's code paths), later ones ~2 ms.
 */

import { activityEnvironment } from '../activities/environment.ts';
import { prepareUnusableSshKey } from '../activities/stage-vm.ts';
import { RUN_COMMAND_OUTPUT_CONTAINER } from '../azure/runCommandBlobs.ts';
import { loadTemplate } from '../template/index.ts';
import { services } from './services.ts';

/** A worker's start waits at most this long for the warm-up: stores out of reach must not hold the worker back. */
export const WARM_UP_LIMIT_MS = 5_000;

/** The shapes a bake's template usually takes: a platform source, inline and file steps, a check, a gallery, a rollout. */
const SAMPLE = {
  type: 'Microsoft.VirtualMachineImages/imageTemplates',
  apiVersion: '2024-02-01',
  location: 'eastus',
  tags: { warm: 'up' },
  properties: {
    buildTimeoutInMinutes: 60,
    vmProfile: { vmSize: 'Standard_D2ds_v4', osDiskSizeGB: 30 },
    source: { type: 'PlatformImage', publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
    customize: [
      { type: 'Shell', name: 'step', inline: ['true'] },
      { type: 'File', name: 'file', sourceUri: 'https://example.com/f', destination: '/tmp/f', sha256Checksum: '0'.repeat(64) },
    ],
    validate: { inVMValidations: [{ type: 'Shell', name: 'check', inline: ['true'] }] },
    distribute: [
      {
        type: 'SharedImage',
        galleryImageId: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i',
        runOutputName: 'i',
        targetRegions: [{ name: 'eastus', replicaCount: 1, storageAccountType: 'Standard_LRS' }],
        artifactTags: { warm: 'up' },
      },
    ],
    rollout: [
      {
        scaleSetId: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s',
        batchPercent: 50,
        pauseBetweenBatches: 'PT0S',
      },
    ],
    schedule: { patch: '0 0 3 * * 0' },
  },
};

/** Each thing a worker prepares; a step that fails here is met again, and reported, by the first request that needs it. */
const STEPS: readonly (() => Promise<unknown>)[] = [
  () => services(),
  // Made on first need otherwise: the first step of the first bake would pay a refused write and the create.
  () => activityEnvironment().clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).createIfNotExists(),
  () => prepareUnusableSshKey(),
  () => loadTemplate({ json: SAMPLE, path: 'warm-up.json' }),
];

/** Runs every step at once and resolves when all have ended or the limit passed, whichever is first. Never rejects. */
export async function warmUp(limitMs = WARM_UP_LIMIT_MS, steps = STEPS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, limitMs);
    timer.unref();
  });
  await Promise.race([Promise.all(steps.map((step) => Promise.resolve().then(step).catch(() => undefined))), limit]);
  clearTimeout(timer);
}
