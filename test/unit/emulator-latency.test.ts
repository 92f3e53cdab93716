// Latency profiles: zero is instant, fast is proportional, realistic draws around the measured p50/p95.
import { describe, expect, it } from 'vitest';
import { createLatency, LatencyConfigError, REALISTIC_SECONDS } from '../../local/azure/latency.ts';

/** A repeatable uniform source (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('latency profiles', () => {
  it('zero takes no time and fast keeps Azure proportions', () => {
    expect(createLatency().durationMs('galleryVersionFirstRegion')).toBe(0);
    const fast = createLatency({ profile: 'fast' });
    expect(fast.durationMs('galleryVersionFirstRegion')).toBe(6000);
    expect(fast.durationMs('vmCreateLinux')).toBe(250);
    expect(createLatency({ profile: 'fast', scale: 0.5 }).durationMs('vmCreateLinux')).toBe(125);
  });

  it('realistic draws have the reference median and 95th percentile, scaled', () => {
    const latency = createLatency({ profile: 'realistic', scale: 0.01, random: seeded(42) });
    const draws = Array.from({ length: 4000 }, () => latency.durationMs('vmCreateLinux')).sort((a, b) => a - b);
    const { p50, p95 } = REALISTIC_SECONDS.vmCreateLinux;
    expect(draws[2000]! / (p50 * 10)).toBeGreaterThan(0.9);
    expect(draws[2000]! / (p50 * 10)).toBeLessThan(1.1);
    expect(draws[3800]! / (p95 * 10)).toBeGreaterThan(0.85);
    expect(draws[3800]! / (p95 * 10)).toBeLessThan(1.15);
    expect(draws.at(-1)!).toBeLessThanOrEqual(p95 * 3 * 10);
  });

  it('rejects unknown profiles and bad scales', () => {
    expect(() => createLatency({ profile: 'slow' })).toThrow(LatencyConfigError);
    expect(() => createLatency({ profile: 'slow' })).toThrow('found "slow"');
    expect(() => createLatency({ profile: 'fast', scale: -1 })).toThrow('latency scale');
  });
});
