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

/**
 * A series as Microsoft Learn's size tables publish it: `Standard_{letter}{vCPUs}{suffix}_{version}` for each vCPU
 * count, memory a fixed GiB per vCPU (where a series' largest size breaks the ratio, `memory` says so).
 */
interface Series {
  letter: string;
  suffix: string;
  version: string;
  family: string;
  vCPUs: number[];
  gibPerVCpu: number;
  memory?: Record<number, number>;
  generations?: Array<'V1' | 'V2'>;
  restrictedIn?: string[];
}

const GENERAL = [2, 4, 8, 16, 32, 48, 64];
const GENERAL_96 = [...GENERAL, 96];
const MEMORY = [2, 4, 8, 16, 20, 32, 48, 64];

const SERIES: Series[] = [
  { letter: 'A', suffix: '', version: 'v2', family: 'standardAv2Family', vCPUs: [1, 2, 4, 8], gibPerVCpu: 2, generations: ['V1'] },
  { letter: 'A', suffix: 'm', version: 'v2', family: 'standardAv2Family', vCPUs: [2, 4, 8], gibPerVCpu: 8, generations: ['V1'] },
  { letter: 'D', suffix: '', version: 'v3', family: 'standardDv3Family', vCPUs: GENERAL, gibPerVCpu: 4 },
  { letter: 'D', suffix: 's', version: 'v3', family: 'standardDSv3Family', vCPUs: GENERAL, gibPerVCpu: 4 },
  { letter: 'E', suffix: '', version: 'v3', family: 'standardEv3Family', vCPUs: MEMORY, gibPerVCpu: 8, memory: { 64: 432 } },
  { letter: 'E', suffix: 's', version: 'v3', family: 'standardESv3Family', vCPUs: MEMORY, gibPerVCpu: 8, memory: { 64: 432 } },
  { letter: 'D', suffix: '', version: 'v4', family: 'standardDv4Family', vCPUs: GENERAL, gibPerVCpu: 4 },
  { letter: 'D', suffix: 's', version: 'v4', family: 'standardDSv4Family', vCPUs: GENERAL, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'd', version: 'v4', family: 'standardDDv4Family', vCPUs: GENERAL, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'ds', version: 'v4', family: 'standardDDSv4Family', vCPUs: GENERAL, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'as', version: 'v4', family: 'standardDASv4Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'E', suffix: 's', version: 'v4', family: 'standardESv4Family', vCPUs: MEMORY, gibPerVCpu: 8, memory: { 64: 504 } },
  { letter: 'E', suffix: 'ds', version: 'v4', family: 'standardEDSv4Family', vCPUs: MEMORY, gibPerVCpu: 8, memory: { 64: 504 } },
  { letter: 'D', suffix: '', version: 'v5', family: 'standardDv5Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'D', suffix: 's', version: 'v5', family: 'standardDSv5Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'd', version: 'v5', family: 'standardDDv5Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'ds', version: 'v5', family: 'standardDDSv5Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'as', version: 'v5', family: 'standardDASv5Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'D', suffix: 'ads', version: 'v5', family: 'standardDADSv5Family', vCPUs: GENERAL_96, gibPerVCpu: 4 },
  { letter: 'E', suffix: '', version: 'v5', family: 'standardEv5Family', vCPUs: [...MEMORY, 96], gibPerVCpu: 8, memory: { 96: 672 } },
  { letter: 'E', suffix: 's', version: 'v5', family: 'standardESv5Family', vCPUs: [...MEMORY, 96], gibPerVCpu: 8, memory: { 96: 672 } },
  { letter: 'E', suffix: 'ds', version: 'v5', family: 'standardEDSv5Family', vCPUs: [...MEMORY, 96], gibPerVCpu: 8, memory: { 96: 672 } },
  { letter: 'E', suffix: 'as', version: 'v5', family: 'standardEASv5Family', vCPUs: [...MEMORY, 96], gibPerVCpu: 8, memory: { 96: 672 } },
  // The v6 series boot Generation 2 images only.
  { letter: 'D', suffix: 's', version: 'v6', family: 'standardDSv6Family', vCPUs: [...GENERAL_96, 128], gibPerVCpu: 4, generations: ['V2'] },
  { letter: 'D', suffix: 'ds', version: 'v6', family: 'standardDDSv6Family', vCPUs: [...GENERAL_96, 128], gibPerVCpu: 4, generations: ['V2'] },
  { letter: 'F', suffix: 's', version: 'v2', family: 'standardFSv2Family', vCPUs: [...GENERAL, 72], gibPerVCpu: 2 },
  { letter: 'L', suffix: 's', version: 'v3', family: 'standardLSv3Family', vCPUs: [8, 16, 32, 48, 64, 80], gibPerVCpu: 8, memory: { 80: 640 } },
  // GPU sizes are where subscriptions meet restrictions first.
  { letter: 'NC', suffix: 's', version: 'v3', family: 'standardNCSv3Family', vCPUs: [6, 12, 24], gibPerVCpu: 112 / 6, memory: { 6: 112, 12: 224, 24: 448 }, restrictedIn: ['eastus', 'westus', 'westeurope'] },
];

const fromSeries = (x: Series): VmSize[] => x.vCPUs.map((n) =>
  size(`Standard_${x.letter}${n}${x.suffix}_${x.version}`, x.family, n, x.memory?.[n] ?? n * x.gibPerVCpu, x.generations, x.restrictedIn));

/** Sizes whose names do not follow the vCPU pattern (Dv2's are numbered 1–5; B-series burstables). */
const NAMED: VmSize[] = [
  ...[1, 2, 3, 4, 5].flatMap((i) => [
    size(`Standard_D${i}_v2`, 'standardDv2Family', 2 ** (i - 1), 3.5 * 2 ** (i - 1)),
    size(`Standard_DS${i}_v2`, 'standardDSv2Family', 2 ** (i - 1), 3.5 * 2 ** (i - 1)),
  ]),
  size('Standard_B1ls', 'standardBSFamily', 1, 0.5),
  size('Standard_B1s', 'standardBSFamily', 1, 1),
  size('Standard_B1ms', 'standardBSFamily', 1, 2),
  size('Standard_B2s', 'standardBSFamily', 2, 4),
  size('Standard_B2ms', 'standardBSFamily', 2, 8),
  ...[4, 8, 12, 16, 20].map((n) => size(`Standard_B${n}ms`, 'standardBSFamily', n, n * 4)),
];

const SIZES: VmSize[] = [...SERIES.flatMap(fromSeries), ...NAMED];

const BY_NAME = new Map(SIZES.map((s) => [s.name.toLowerCase(), s]));

export function findVmSize(name: string): VmSize | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export interface CoreLimits {
  total: number;
  family: number;
}

/** Regional vCPU quota per family and in total (a new subscription's defaults, rounded). */
export const CORE_LIMITS: CoreLimits = { total: 100, family: 50 };

/** A raised quota as given (emulator option coreLimits): whole vCPU counts, the family's within the regional total. */
export function checkCoreLimits(limits: CoreLimits): CoreLimits {
  for (const key of ['total', 'family'] as const) {
    if (!Number.isInteger(limits[key]) || limits[key] < 1) throw new Error(`coreLimits.${key}: expected a positive whole number of vCPUs, found ${JSON.stringify(limits[key])}`);
  }
  if (limits.family > limits.total) throw new Error(`coreLimits.family: expected at most coreLimits.total (${limits.total}), found ${limits.family}`);
  return limits;
}

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
