/** How long each emulated Azure operation takes: the `zero`, `fast` and `realistic` latency profiles. */

export const LATENCY_PROFILES = ['zero', 'fast', 'realistic'] as const;
export type LatencyProfileName = (typeof LATENCY_PROFILES)[number];

/**
 * Typical (p50) and slow (p95) durations in seconds, compiled from public reports of Azure operation times
 * (Terraform and Packer logs, Microsoft's documentation and Q&A; local/azure/README.md, Latency).
 * Keys are the operation kinds the emulator asks about.
 */
export const REALISTIC_SECONDS = {
  resourceGroupCreate: { p50: 2, p95: 10 },
  resourceGroupDelete: { p50: 180, p95: 600 },
  networkResourceCreate: { p50: 5, p95: 20 },
  vmCreateLinux: { p50: 50, p95: 150 },
  vmCreateWindows: { p50: 110, p95: 360 },
  vmStart: { p50: 45, p95: 150 },
  vmRestart: { p50: 50, p95: 180 },
  vmPowerOff: { p50: 45, p95: 120 },
  vmDeallocate: { p50: 75, p95: 240 },
  vmGeneralize: { p50: 1, p95: 3 },
  runCommandActionOverhead: { p50: 25, p95: 90 },
  runCommandManagedStart: { p50: 15, p95: 45 },
  runCommandManagedFirstUseExtra: { p50: 15, p95: 60 },
  runCommandManagedReport: { p50: 8, p95: 20 },
  guestDeprovisionLinux: { p50: 3, p95: 10 },
  guestSysprepWindows: { p50: 300, p95: 1200 },
  guestShutdownToStopped: { p50: 20, p95: 60 },
  managedImageCreate: { p50: 30, p95: 180 },
  galleryVersionFirstRegion: { p50: 1200, p95: 3600 },
  galleryVersionPerExtraRegion: { p50: 600, p95: 2400 },
  galleryVersionPerExtraReplica: { p50: 60, p95: 300 },
  vmssModelUpdate: { p50: 10, p95: 45 },
  vmssInstanceUpgradeLinux: { p50: 200, p95: 420 },
  vmssInstanceUpgradeWindows: { p50: 480, p95: 1200 },
  healthExtensionToHealthy: { p50: 10, p95: 60 },
  rollingUpgradeBatchOverhead: { p50: 20, p95: 90 },
  // Estimates: a Functions host loading its triggers after a deployment; an Event Grid subscription's provisioning.
  functionAppTriggersLoad: { p50: 30, p95: 120 },
  eventSubscriptionCreate: { p50: 10, p95: 40 },
} as const satisfies Record<string, { p50: number; p95: number }>;

export type OperationKind = keyof typeof REALISTIC_SECONDS;

/** `fast` keeps Azure's proportions at 1/200 of the typical time: a whole bake shows its steps in seconds. */
const FAST_DIVISOR = 200;
/** z-score of the 95th percentile of a standard normal distribution. */
const Z95 = 1.6448536;
/** The realistic tail is cut at this multiple of p95, so one unlucky draw cannot stall a run for hours. */
const TAIL_CAP = 3;

export interface Latency {
  readonly profile: LatencyProfileName;
  readonly scale: number;
  /** Milliseconds the given operation should take now (a fresh draw each call for `realistic`). */
  durationMs(kind: OperationKind): number;
}

export interface LatencyOptions {
  profile?: string;
  /** Multiplies every duration; e.g. 0.01 runs the realistic profile 100× faster. Default 1. */
  scale?: number;
  /** Uniform [0, 1) source; injectable so tests get repeatable draws. */
  random?: () => number;
}

export class LatencyConfigError extends Error {
  override name = 'LatencyConfigError';
}

export function isLatencyProfileName(value: string): value is LatencyProfileName {
  return (LATENCY_PROFILES as readonly string[]).includes(value);
}

/** A standard normal draw (Box–Muller). */
function standardNormal(random: () => number): number {
  const u = 1 - random(); // (0, 1], so the logarithm is finite
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A log-normal draw whose median is p50 and whose 95th percentile is p95. */
function logNormalSeconds(p50: number, p95: number, random: () => number): number {
  const sigma = Math.log(p95 / p50) / Z95;
  return Math.min(p50 * Math.exp(sigma * standardNormal(random)), p95 * TAIL_CAP);
}

export function createLatency(options: LatencyOptions = {}): Latency {
  const profile = options.profile ?? 'zero';
  if (!isLatencyProfileName(profile)) {
    throw new LatencyConfigError(
      `latency profile: expected one of ${LATENCY_PROFILES.join(', ')}, found ${JSON.stringify(profile)}`,
    );
  }
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale < 0) {
    throw new LatencyConfigError(`latency scale: expected a number >= 0, found ${JSON.stringify(options.scale)}`);
  }
  const random = options.random ?? Math.random;

  return {
    profile,
    scale,
    durationMs(kind: OperationKind): number {
      const timing = REALISTIC_SECONDS[kind];
      if (!timing) throw new LatencyConfigError(`latency: unknown operation kind ${JSON.stringify(kind)}`);
      switch (profile) {
        case 'zero':
          return 0;
        case 'fast':
          return Math.round(((timing.p50 * 1000) / FAST_DIVISOR) * scale);
        case 'realistic':
          return Math.round(logNormalSeconds(timing.p50, timing.p95, random) * 1000 * scale);
      }
    },
  };
}
