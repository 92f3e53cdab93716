// Quick looks (src/activities/quick-looks.ts) and the poller's use of progress (src/pipeline/polling.ts), on a clock
// the test moves itself: when looks happen, that the window bounds them, and that an estimated end is bracketed.
import { describe, expect, it } from 'vitest';
import { lookQuickly, type LookClock, type QuickLookWindow } from '../../src/activities/quick-looks.ts';
import { loadConfig } from '../../src/config.ts';
import { BLIND_POLL_FRACTION, nextLook, nextPollDelay, pacedFraction, progressEnd, quickWindowMs } from '../../src/pipeline/polling.ts';

/** A clock that moves only when slept on, and an operation that ends at `endsAt`, recording when it was looked at. */
function scripted(endsAt: number, options: { throwsAt?: number } = {}) {
  let t = 0;
  const looks: number[] = [];
  const clock: LookClock = { now: () => t, sleep: async (ms) => void (t += ms) };
  const look = async (): Promise<string> => {
    looks.push(t);
    if (options.throwsAt !== undefined && looks.length === options.throwsAt) throw new Error('429 Too Many Requests');
    return t >= endsAt ? 'ended' : 'running';
  };
  return { clock, look, looks, now: () => t };
}

const running = (answer: string) => answer === 'running';
const window = (until: number, floorMs = 10): QuickLookWindow => ({ startedAt: 0, until, floorMs, maxMs: 1_000 });

describe('lookQuickly', () => {
  it('sees an operation that ends inside the window within one floor of its end, and looks no more', async () => {
    const op = scripted(237);
    expect(await lookQuickly('running', op.look, running, window(1_000), op.clock)).toBe('ended');
    expect(op.looks[0]).toBe(0); // the first look at once
    expect(op.looks.at(-1)! - 237).toBeGreaterThanOrEqual(0);
    expect(op.looks.at(-1)! - 237).toBeLessThan(10);
    expect(op.looks.filter((at) => at >= 237)).toHaveLength(1);
  });

  it('hands a longer wait back unfinished, starting no look after the window, with intervals growing on the 1 % rule', async () => {
    const op = scripted(60_000);
    expect(await lookQuickly('running', op.look, running, window(3_000), op.clock)).toBe('running');
    expect(op.looks.at(-1)!).toBeLessThanOrEqual(3_000);
    const gaps = op.looks.slice(1).map((at, i) => at - op.looks[i]!);
    expect(Math.min(...gaps)).toBe(10);
    // Past 1 s of age the floor no longer binds: each gap is 1 % of the age it was taken at.
    for (const [i, gap] of gaps.entries()) expect(gap).toBe(nextPollDelay(op.looks[i]!, { minMs: 10, maxMs: 1_000 }, undefined, BLIND_POLL_FRACTION));
    expect(gaps.at(-1)!).toBeGreaterThan(10);
  });

  it('paces its looks by the operation\'s age when the window starts before the watch (a young wait the poller hands over)', async () => {
    const op = scripted(60_000);
    // The operation began 20 s before the watch: 0.2 % of its age is 40 ms, four times the floor.
    const paced: QuickLookWindow = { startedAt: -20_000, until: 1_000, floorMs: 10, maxMs: 1_000, fraction: 0.002 };
    expect(await lookQuickly('running', op.look, running, paced, op.clock)).toBe('running');
    const gaps = op.looks.slice(1).map((at, i) => at - op.looks[i]!);
    expect(gaps[0]).toBe(40);
    expect(op.looks.length).toBeLessThan(30);
  });

  it('takes its first look even when the window has already passed (one look, as a begin… always took)', async () => {
    const op = scripted(60_000);
    expect(await lookQuickly('running', op.look, running, window(-1), op.clock)).toBe('running');
    expect(op.looks).toEqual([0]);
  });

  it('stops at a look that throws (a transient refusal) and answers what it knew, leaving the next look to the durable poller', async () => {
    const op = scripted(500, { throwsAt: 3 });
    expect(await lookQuickly('running', op.look, running, window(1_000), op.clock)).toBe('running');
    expect(op.looks).toHaveLength(3);
  });

  it('returns an answer that is not running without looking at all', async () => {
    const op = scripted(0);
    expect(await lookQuickly('ended', op.look, running, window(1_000), op.clock)).toBe('ended');
    expect(op.looks).toEqual([]);
  });
});

describe('progressEnd', () => {
  it('brackets the true end of an operation that progresses at a steady pace, from a whole percent rounded down', () => {
    const totalMs = 27_000;
    for (const elapsedMs of [1_000, 9_999, 13_500, 26_000, 26_900]) {
      const percent = Math.floor((elapsedMs / totalMs) * 100);
      const end = progressEnd(elapsedMs, percent)!;
      expect(end.earliestMs).toBeLessThanOrEqual(totalMs - elapsedMs + 1);
      expect(end.latestMs).toBeGreaterThanOrEqual(totalMs - elapsedMs - 1);
    }
  });

  it('gives no estimate without a usable percent', () => {
    for (const percent of [undefined, 0, 0.5, 100, Number.NaN]) expect(progressEnd(10_000, percent)).toBeUndefined();
    expect(progressEnd(0, 50)).toBeUndefined();
  });
});

describe('nextLook', () => {
  const bounds = { minMs: 50, maxMs: 1_000 };

  it('is the 1 % rule, one plain look, when the operation reports no progress (its end cannot be foreseen)', () => {
    expect(nextLook(20_000, bounds, {})).toEqual({ delayMs: 200, watchMs: 0 });
    expect(nextLook(20_000, bounds, {}).delayMs).toBe(nextPollDelay(20_000, bounds, undefined, BLIND_POLL_FRACTION));
    expect(nextLook(3_000, bounds, {}).delayMs).toBe(bounds.minMs);
    expect(nextLook(20_000, bounds, { retryAfterMs: 100 })).toEqual({ delayMs: 100, watchMs: 0 });
  });

  it('watches a wait with no progress, a quick window at a time, when quick looks are set cheaper than durable ones', () => {
    const local = { minMs: 50, maxMs: 1_000, quickMs: 10 };
    // Looks five times cheaper: a rule five times denser (0.2 %), in watches instead of a timer and an activity per look.
    expect(pacedFraction(local)).toBeCloseTo(0.002);
    expect(nextLook(3_000, local, {})).toEqual({ delayMs: 0, watchMs: quickWindowMs(local), pace: pacedFraction(local) });
    expect(nextLook(60_000, local, {})).toEqual({ delayMs: 0, watchMs: quickWindowMs(local), pace: pacedFraction(local) });
    // Once the paced interval would reach the window (0.2 % of 500 s = 1 s), durable timers on the 1 % rule again.
    expect(nextLook(600_000, local, {})).toEqual({ delayMs: 1_000, watchMs: 0 });
    // With the quick floor at the durable one (Azure's default), watching saves no read: timers.
    expect(pacedFraction({ minMs: 2_000, maxMs: 30_000, quickMs: 2_000 })).toBeUndefined();
    expect(nextLook(3_000, { minMs: 2_000, maxMs: 30_000, quickMs: 2_000 }, {})).toEqual({ delayMs: 2_000, watchMs: 0 });
    // A plan made before the quick floor was passed on: timers, as it was.
    expect(nextLook(3_000, { minMs: 50, maxMs: 1_000 }, {})).toEqual({ delayMs: 50, watchMs: 0 });
    // An operation reporting progress keeps its own estimate and rule.
    expect(nextLook(3_000, local, { percent: 10 }).watchMs).toBe(0);
  });

  it('keeps the 2 % rule while the progress puts the end far off', () => {
    expect(nextLook(13_500, bounds, { percent: 50 })).toEqual({ delayMs: nextPollDelay(13_500, bounds), watchMs: 0 });
  });

  it('looks at the earliest estimated end, watching quickly across the rest of the estimate, within the window', () => {
    // 26.5 s into a 27 s operation: 98 % done, the end 0.27–0.54 s away; the rule alone would wait 0.53 s.
    const next = nextLook(26_500, bounds, { percent: 98 });
    const end = progressEnd(26_500, 98)!;
    expect(next.delayMs).toBe(end.earliestMs);
    expect(next.delayMs).toBeLessThan(nextPollDelay(26_500, bounds));
    expect(next.delayMs + next.watchMs).toBeGreaterThanOrEqual(end.latestMs);
    expect(next.watchMs).toBeLessThanOrEqual(quickWindowMs(bounds));
  });

  it('an operation stuck at 99 % is watched once, then looked at on the 2 % rule (no back-to-back looks)', () => {
    const bounds = { minMs: 50, maxMs: 1_000 };
    let watched: number | undefined;
    let elapsed = 20_000;
    const delays: number[] = [];
    for (let look = 0; look < 20; look++) {
      const next = nextLook(elapsed, bounds, { percent: 99 }, watched);
      if (next.watchMs > 0) watched = 99;
      delays.push(next.delayMs);
      elapsed += next.delayMs + next.watchMs;
    }
    expect(delays.filter((d) => d === 0)).toHaveLength(1);
    expect(Math.min(...delays.slice(1))).toBeGreaterThanOrEqual(bounds.minMs);
    // A new percent is a new estimate.
    expect(nextLook(60_000, bounds, { percent: 99 }, 98).delayMs).toBe(0);
  });

  it('never watches longer than the quick window, however wide the estimate', () => {
    const next = nextLook(3_600_000, { minMs: 2_000, maxMs: 30_000 }, { percent: 97 });
    expect(next.watchMs).toBe(0);
    expect(next.delayMs).toBe(nextPollDelay(3_600_000, { minMs: 2_000, maxMs: 30_000 }));
  });
});

describe('quick-look settings', () => {
  const base = { KILN_SUBSCRIPTION_ID: 's', AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

  it('look no more often than the durable poller unless told (KILN_POLL_QUICK_MS defaults to KILN_POLL_MIN_MS)', () => {
    expect(loadConfig(base)).toMatchObject({ pollMinMs: 2_000, pollQuickMs: 2_000 });
    expect(quickWindowMs({ minMs: 2_000 })).toBe(40_000);
    expect(loadConfig({ ...base, KILN_POLL_MIN_MS: '50', KILN_POLL_QUICK_MS: '10' })).toMatchObject({ pollMinMs: 50, pollQuickMs: 10 });
  });

  it('refuse a quick floor above the durable floor', () => {
    expect(() => loadConfig({ ...base, KILN_POLL_MIN_MS: '50', KILN_POLL_QUICK_MS: '100' })).toThrow(/KILN_POLL_QUICK_MS: expected at most KILN_POLL_MIN_MS \(50\), found 100/);
  });
});
