import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SkippableClock } from '../../local/host/clock.ts';
import { startLocalHost, type LocalHost } from '../../local/host/index.ts';
import type { TimerInput } from '../../local/host/timer-triggers.ts';
import { recordedCalls } from '../fixtures/host-apps/calls.ts';

const fixtures = join(import.meta.dirname, '../fixtures/host-apps');
const home = mkdtempSync(join(tmpdir(), 'kiln-host-timer-'));
let host: LocalHost | undefined;

function start(clock: SkippableClock): Promise<LocalHost> {
  return startLocalHost({
    appEntry: join(fixtures, 'timer-app.ts'),
    home,
    port: 0,
    settings: { HOST_TEST_DAILY: '0 0 6 * * *', HOST_TEST_HUB: 'timerhub' },
    hostJsonPath: join(fixtures, 'host.json'),
    clock,
    log: () => undefined,
  });
}

function inputs(fn: string): TimerInput[] {
  return recordedCalls(fn).map((call) => call.input as TimerInput);
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterAll(async () => {
  await host?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('local host timer triggers', () => {
  it('runs runOnStartup at once and an NCRONTAB schedule as the clock advances', async () => {
    const clock = new SkippableClock({ start: Date.parse('2026-01-01T00:30:00Z') });
    host = await start(clock);
    await waitFor(() => inputs('dailyWithStartup').length === 1, 'the runOnStartup run');
    expect(inputs('dailyWithStartup')[0]!.isPastDue).toBe(false);
    expect(inputs('hourly')).toHaveLength(0);

    await clock.advance(30 * 60_000);
    await waitFor(() => inputs('hourly').length === 1, 'the 01:00 run');
    expect(inputs('hourly')[0]).toMatchObject({
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: { next: '2026-01-01T01:00:00.000Z' },
    });

    await clock.advance(59 * 60_000);
    expect(inputs('hourly')).toHaveLength(1);
    await clock.advance(60_000);
    await waitFor(() => inputs('hourly').length === 2, 'the 02:00 run');
    expect(inputs('hourly')[1]!.scheduleStatus).toMatchObject({ last: '2026-01-01T01:00:00.000Z', next: '2026-01-01T02:00:00.000Z' });
    expect(inputs('dailyWithStartup')).toHaveLength(1);
    await host.close();
    host = undefined;
  });

  it('after a restart that missed an occurrence, runs once with isPastDue', async () => {
    // Down from 02:00 to 05:10: the 03:00 occurrence was missed.
    const clock = new SkippableClock({ start: Date.parse('2026-01-01T05:10:00Z') });
    host = await start(clock);
    await waitFor(() => inputs('hourly').length === 3, 'the catch-up run');
    expect(inputs('hourly')[2]).toMatchObject({
      isPastDue: true,
      scheduleStatus: { last: '2026-01-01T02:00:00.000Z', next: '2026-01-01T03:00:00.000Z' },
    });
    await waitFor(() => inputs('dailyWithStartup').length === 2, 'the second runOnStartup run');
    expect(inputs('dailyWithStartup')[1]!.isPastDue).toBe(false);

    // Next occurrences come from the current time: 06:00 fires both, once each.
    await clock.advance(50 * 60_000);
    await waitFor(() => inputs('hourly').length === 4 && inputs('dailyWithStartup').length === 3, 'the 06:00 runs');
    expect(inputs('hourly')[3]!.isPastDue).toBe(false);
    expect(inputs('dailyWithStartup')[2]).toMatchObject({ isPastDue: false, scheduleStatus: { next: '2026-01-01T06:00:00.000Z' } });
  });
});
