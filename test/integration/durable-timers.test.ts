import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDurableHost, type DurableTestHost } from './durable-helpers.ts';

let t: DurableTestHost;
const counts = (globalThis as { durableTestCounts?: Map<string, number> });
const flakyRuns = (key: string): number => counts.durableTestCounts?.get(`Flaky:${key}`) ?? 0;

beforeAll(async () => {
  t = await startDurableHost();
});

afterAll(async () => {
  await t?.close();
});

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until nothing runs and nothing is runnable: whatever could happen without a clock skip has happened. */
const settle = () => t.host.whenIdle();

async function historyTypes(id: string): Promise<string[]> {
  const status = await t.client.getStatus(id, { showHistory: true });
  return (status.history as { EventType: string }[]).map((e) => e.EventType);
}

describe('durable engine: timers and retries on the skippable clock', () => {
  it('fires a one-hour durable timer when the clock skips an hour, not before', async () => {
    const id = await t.client.startNew('Timer');
    await until(async () => (await historyTypes(id)).includes('TimerCreated'), 'the timer');
    await t.clock.advance(59 * 60 * 1000);
    await settle();
    expect((await t.client.getStatus(id)).runtimeStatus).toBe('Running');
    await t.clock.advance(60 * 1000);
    const status = await t.waitFor(id);
    expect(status.output).toEqual({ waitedMs: expect.any(Number), hello: 'Hello after timer!' });
    expect((status.output as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(60 * 60 * 1000);
  });

  it('whenIdle waits for work in flight, and advanceToNextTimer jumps straight to the next durable timer', async () => {
    const id = await t.client.startNew('Timer');
    // No polling for the timer: idle means the orchestration has run and scheduled it.
    await t.host.whenIdle();
    expect(await historyTypes(id)).toContain('TimerCreated');
    expect((await t.client.getStatus(id)).runtimeStatus).toBe('Running');
    const due = t.clock.nextTimerAt()!;
    expect(due - t.clock.now()).toBeGreaterThan(59 * 60 * 1000);
    expect(await t.clock.advanceToNextTimer()).toBe(true);
    await t.host.whenIdle();
    expect((await t.client.getStatus(id)).runtimeStatus).toBe('Completed');
  });

  it('retries with backoff: 60 s, then 120 s capped at 100 s, then succeeds', async () => {
    const id = await t.client.startNew('Retry', { input: { key: 'r1', failures: 2, attempts: 3 } });
    await until(() => flakyRuns('r1') === 1, 'attempt 1');
    await settle();
    await t.clock.advance(59_000);
    await settle();
    expect(flakyRuns('r1')).toBe(1);
    await t.clock.advance(1_000);
    await until(() => flakyRuns('r1') === 2, 'attempt 2');
    await settle();
    await t.clock.advance(99_000);
    await settle();
    expect(flakyRuns('r1')).toBe(2);
    await t.clock.advance(1_000);
    const status = await t.waitFor(id);
    expect(status.output).toBe('ok on attempt 3');
    expect(flakyRuns('r1')).toBe(3);
  });

  it('gives up after maxNumberOfAttempts and surfaces the last failure', async () => {
    const id = await t.client.startNew('Retry', { input: { key: 'r2', failures: 10, attempts: 2 } });
    const status = await t.waitFor(id, (s) => {
      void t.clock.advance(60_000);
      return s.runtimeStatus === 'Completed';
    });
    expect(status.output).toBe("gave up: Activity function 'Flaky' failed: flaky failure 2 of r2 ");
    expect(flakyRuns('r2')).toBe(2);
  });

  it('stops retrying once the retry timeout has passed, with the last failure', async () => {
    const id = await t.client.startNew('Retry', { input: { key: 'r3', failures: 10, attempts: 5, timeoutMs: 90_000 } });
    await until(() => flakyRuns('r3') === 1, 'attempt 1');
    await settle();
    await t.clock.advance(60_000);
    await until(() => flakyRuns('r3') === 2, 'attempt 2');
    await settle();
    // The next retry would start 100 s later, past the 90 s timeout: attempts 3 to 5 fail at once.
    await t.clock.advance(100_000);
    const status = await t.waitFor(id);
    expect(status.output).toBe("gave up: Activity function 'Flaky' failed: flaky failure 2 of r3 (retry timeout exceeded) ");
    expect(flakyRuns('r3')).toBe(2);
  });

  it('keeps task ids aligned for retries inside Task.all and raced against a re-yielded event wait', async () => {
    const id = await t.client.startNew('RetryMix');
    const status = await t.waitFor(id, (s) => {
      void t.clock.advance(1_000);
      return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed';
    });
    expect(status.output).toEqual(['ok on attempt 2', 'Hello b!', 'ok on attempt 2', 'ok on attempt 2', 'Hello end!']);
  });

  it('numbers a retry reservation before the new tasks of an event that arrived with it', async () => {
    const gates = (globalThis as { durableTestGates?: Map<string, () => void> }).durableTestGates!;
    const id = await t.client.startNew('RetryLosesRace', { instanceId: 'race-1' });
    await until(() => gates.has(id), 'the gated attempt');
    // Hold the instance so the timer's firing and the attempt's failure reach it in one episode, timer first.
    await t.client.suspend(id, 'collect events');
    await t.clock.advance(10_000);
    await settle();
    gates.get(id)!();
    await settle();
    await t.client.resume(id, 'go');
    const status = await t.waitFor(id, (s) => {
      void t.clock.advance(1_000);
      return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed';
    });
    expect(status.output).toEqual(['Hello timer won!', 'passed']);
  });

  it('takes an external event that wins over the timeout timer', async () => {
    const id = await t.client.startNew('Approval');
    await until(async () => (await historyTypes(id)).includes('TimerCreated'), 'the wait');
    await t.client.raiseEvent(id, 'approve', { by: 'ann' });
    expect((await t.waitFor(id)).output).toEqual({ approved: true, by: 'ann' });
  });

  it('keeps an event raised before the orchestrator waits for it', async () => {
    const id = await t.client.startNew('Approval');
    await t.client.raiseEvent(id, 'approve', { by: 'early' });
    expect((await t.waitFor(id)).output).toEqual({ approved: true, by: 'early' });
  });

  it('times out the wait when the clock skips 24 hours', async () => {
    const id = await t.client.startNew('Approval');
    await until(async () => (await historyTypes(id)).includes('TimerCreated'), 'the wait');
    await t.clock.advance(24 * 60 * 60 * 1000);
    expect((await t.waitFor(id)).output).toEqual({ approved: false });
  });

  it('holds a suspended instance (its timer fires but nothing runs) until resumed', async () => {
    const id = await t.client.startNew('Timer');
    await until(async () => (await historyTypes(id)).includes('TimerCreated'), 'the timer');
    await t.client.suspend(id, 'maintenance');
    expect((await t.client.getStatus(id)).runtimeStatus).toBe('Suspended');
    await t.clock.advance(2 * 60 * 60 * 1000);
    await settle();
    expect((await t.client.getStatus(id)).runtimeStatus).toBe('Suspended');
    await t.client.resume(id, 'done');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(await historyTypes(id)).toContain('ExecutionSuspended');
  });

  it('fires timers that came due while the host was down as soon as it starts again', async () => {
    const home = mkdtempSync(join(tmpdir(), 'kiln-durable-downtime-'));
    try {
      const first = await startDurableHost({ home });
      const id = await first.client.startNew('Timer', { instanceId: 'downtime-1' });
      await first.waitFor(id, (s) => s.runtimeStatus === 'Running');
      await first.close();
      // Two hours later (the timer was for one): the new host's clock starts there.
      const second = await startDurableHost({ home, clockStart: first.clock.now() + 2 * 60 * 60 * 1000 });
      try {
        const status = await second.waitFor(id);
        expect(status.runtimeStatus).toBe('Completed');
        expect((status.output as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(2 * 60 * 60 * 1000);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
