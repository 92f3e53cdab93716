/**
 * The VM size catalogue (`Microsoft.Compute/skus`): the sizes each region offers, their vCPUs, family and Hyper-V
 * generations, and the subscription restrictions Azure reports; the rules a VM's `hardwareProfile.vmSize` meets.
 */
import { errors } from '../errors.ts';
import { regionNames } from '../regions.ts';

export interface VmSize {
  name: string;
  family: string;
  vCPUs: number;
  memoryGB: number;
  hyperVGenerations: Array<'V1' | 'V2'>;
  /** Regions where the size is not offered to this subscription (Azure lists them as Location restrictions). */
  restrictedIn: string[];
}

const size = (name: string, family: string, vCPUs: number, memoryGB: number, generations: Array<'V1' | 'V2'> = ['V1', 'V2'], restrictedIn: string[] = []): VmSize =>
  ({ name, family, vCPUs, memoryGB, hyperVGenerations: generations, restrictedIn });

const SIZES: VmSize[] = [
  size('Standard_A1_v2', 'standardAv2Family', 1, 2, ['V1']),
  size('Standard_A2_v2', 'standardAv2Family', 2, 4, ['V1']),
  size('Standard_B2s', 'standardBSFamily', 2, 4),
  size('Standard_B2ms', 'standardBSFamily', 2, 8),
  size('Standard_D1_v2', 'standardDv2Family', 1, 3.5),
  size('Standard_D2_v2', 'standardDv2Family', 2, 7),
  size('Standard_DS1_v2', 'standardDSv2Family', 1, 3.5),
  size('Standard_D2s_v3', 'standardDSv3Family', 2, 8),
  size('Standard_D4s_v3', 'standardDSv3Family', 4, 16),
  size('Standard_D2ds_v4', 'standardDDSv4Family', 2, 8),
  size('Standard_D4ds_v4', 'standardDDSv4Family', 4, 16),
  size('Standard_D2s_v5', 'standardDSv5Family', 2, 8),
  size('Standard_D4s_v5', 'standardDSv5Family', 4, 16),
  size('Standard_D8s_v5', 'standardDSv5Family', 8, 32),
  size('Standard_D2ds_v5', 'standardDDSv5Family', 2, 8),
  size('Standard_D4ds_v5', 'standardDDSv5Family', 4, 16),
  size('Standard_E2s_v5', 'standardESv5Family', 2, 16),
  size('Standard_F2s_v2', 'standardFSv2Family', 2, 4),
  // More of the sizes templates name (Microsoft Learn's Packer tutorial uses Standard_DS2_v2): all offered everywhere.
  size('Standard_B1s', 'standardBSFamily', 1, 1),
  size('Standard_B1ms', 'standardBSFamily', 1, 2),
  size('Standard_B4ms', 'standardBSFamily', 4, 16),
  size('Standard_DS2_v2', 'standardDSv2Family', 2, 7),
  size('Standard_DS3_v2', 'standardDSv2Family', 4, 14),
  size('Standard_DS4_v2', 'standardDSv2Family', 8, 28),
  size('Standard_D2_v3', 'standardDv3Family', 2, 8),
  size('Standard_D4_v3', 'standardDv3Family', 4, 16),
  size('Standard_D8s_v3', 'standardDSv3Family', 8, 32),
  size('Standard_D2s_v4', 'standardDSv4Family', 2, 8),
  size('Standard_D4s_v4', 'standardDSv4Family', 4, 16),
  size('Standard_D2as_v4', 'standardDASv4Family', 2, 8),
  size('Standard_D2as_v5', 'standardDASv5Family', 2, 8),
  size('Standard_D4as_v5', 'standardDASv5Family', 4, 16),
  size('Standard_D2ads_v5', 'standardDADSv5Family', 2, 8),
  size('Standard_D8ds_v5', 'standardDDSv5Family', 8, 32),
  size('Standard_D16s_v5', 'standardDSv5Family', 16, 64),
  size('Standard_E2s_v3', 'standardESv3Family', 2, 16),
  size('Standard_E4s_v5', 'standardESv5Family', 4, 32),
  size('Standard_F4s_v2', 'standardFSv2Family', 4, 8),
  // GPU sizes are where subscriptions meet restrictions first.
  size('Standard_NC6s_v3', 'standardNCSv3Family', 6, 112, ['V1', 'V2'], ['eastus', 'westus', 'westeurope']),
];

const BY_NAME = new Map(SIZES.map((s) => [s.name.toLowerCase(), s]));

export function findVmSize(name: string): VmSize | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** Regional vCPU quota per family and in total (a new subscription's defaults, rounded). */
export const CORE_LIMITS = { total: 100, family: 50 } as const;

/** The size a VM may use in `location`, or Azure's error: unknown (400), restricted (409), or the wrong generation. */
export function checkVmSize(name: string, location: string, generation: 'V1' | 'V2', target = 'hardwareProfile.vmSize'): VmSize {
  const found = findVmSize(name);
  if (!found) {
    throw errors.invalidVmSize(name, SIZES.filter((s) => !s.restrictedIn.includes(location)).map((s) => s.name), target);
  }
  if (found.restrictedIn.includes(location)) {
    throw errors.skuNotAvailable(found.name, location, target);
  }
  if (!found.hyperVGenerations.includes(generation)) {
    throw errors.vmSizeGenerationMismatch(found.name, generation, target);
  }
  return found;
}

/** `Microsoft.Compute/skus` entries (resourceType virtualMachines) for the regions asked for. */
export function resourceSkus(location?: string): Record<string, unknown>[] {
  const regions = location ? [location] : regionNames();
  return regions.flatMap((region) =>
    SIZES.map((s) => ({
      resourceType: 'virtualMachines',
      name: s.name,
      tier: 'Standard',
      size: s.name.replace(/^Standard_/, ''),
      family: s.family,
      locations: [region],
      locationInfo: [{ location: region, zones: ['1', '2', '3'], zoneDetails: [] }],
      capabilities: [
        { name: 'vCPUs', value: String(s.vCPUs) },
        { name: 'MemoryGB', value: String(s.memoryGB) },
        { name: 'HyperVGenerations', value: s.hyperVGenerations.join(',') },
        { name: 'PremiumIO', value: /s_|S\d/.test(s.name) ? 'True' : 'False' },
      ],
      restrictions: s.restrictedIn.includes(region)
        ? [{ type: 'Location', values: [region], restrictionInfo: { locations: [region] }, reasonCode: 'NotAvailableForSubscription' }]
        : [],
    })),
  );
}
