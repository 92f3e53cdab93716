import { describe, expect, it } from 'vitest';
import { acquire, lockKey, release, type BakeLockState } from '../../src/pipeline/bake-lock.ts';

const t = (minute: number) => new Date(Date.UTC(2026, 10, 25, 13, minute)).toISOString();
const ask = (state: BakeLockState, runId: string, minute: number, leaseMinutes = 60) =>
  acquire(state, { runId, now: t(minute), leaseUntil: t(minute + leaseMinutes), staleAfterMs: 5 * 60_000 });

describe('bake lock', () => {
  it('grants a free lock and makes a second bake wait behind the holder', () => {
    const first = ask({ queue: [] }, 'run-a', 0);
    expect(first.result).toEqual({ granted: true, holder: 'run-a' });
    const second = ask(first.state, 'run-b', 1);
    expect(second.result).toEqual({ granted: false, holder: 'run-a' });
    expect(second.state.queue.map((w) => w.runId)).toEqual(['run-b']);
  });

  it('hands the lock to the first waiter after a release, not to a later one', () => {
    let state = ask({ queue: [] }, 'run-a', 0).state;
    state = ask(state, 'run-b', 1).state;
    state = ask(state, 'run-c', 2).state;
    const released = release(state, { runId: 'run-a' });
    // The releasing bake is told whom to wake: the first waiter, not a later one.
    expect(released.result).toEqual({ next: 'run-b' });
    state = released.state;
    const late = ask(state, 'run-c', 3);
    expect(late.result.granted).toBe(false);
    const first = ask(late.state, 'run-b', 3);
    expect(first.result).toEqual({ granted: true, holder: 'run-b' });
    expect(first.state.queue.map((w) => w.runId)).toEqual(['run-c']);
  });

  it('renews the lease when the holder asks again', () => {
    const held = ask({ queue: [] }, 'run-a', 0, 10).state;
    const again = ask(held, 'run-a', 5, 10);
    expect(again.result.granted).toBe(true);
    expect(again.state.holder).toEqual({ runId: 'run-a', leaseUntil: t(15) });
  });

  it('takes the lock from a holder whose lease ended and drops waiters that stopped asking', () => {
    let state = ask({ queue: [] }, 'run-a', 0, 10).state;
    state = ask(state, 'run-gone', 1).state;
    const later = ask(state, 'run-b', 20);
    expect(later.result).toEqual({ granted: true, holder: 'run-b' });
    expect(later.state.queue).toEqual([]);
  });

  it('ignores a release by a run that does not hold the lock, and releasing twice', () => {
    const held = ask({ queue: [] }, 'run-a', 0).state;
    const notHolder = release(held, { runId: 'run-b' });
    expect(notHolder.state.holder?.runId).toBe('run-a');
    // Still held: nobody is woken.
    expect(notHolder.result).toEqual({});
    expect(release(release(held, { runId: 'run-a' }).state, { runId: 'run-a' })).toEqual({ state: { queue: [] }, result: {} });
  });

  it('keys an image id case-insensitively, without slashes', () => {
    const id = '/subscriptions/S/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web';
    expect(lockKey(id)).toBe(lockKey(id.toUpperCase()));
    expect(lockKey(id)).not.toMatch(/[/@]/);
  });

  it('queues waiters in the order their bakes arrived, not the order they first asked', () => {
    let state = ask({ queue: [] }, 'run-a', 0).state;
    const askArrived = (st: BakeLockState, runId: string, minute: number, arrived: number) =>
      acquire(st, { runId, now: t(minute), leaseUntil: t(minute + 60), staleAfterMs: 5 * 60_000, arrivedAt: t(arrived) });
    state = askArrived(state, 'run-late', 1, 3).state;
    state = askArrived(state, 'run-early', 2, 1).state;
    expect(state.queue.map((w) => w.runId)).toEqual(['run-early', 'run-late']);
    expect(release(state, { runId: 'run-a' }).result).toEqual({ next: 'run-early' });
  });
});
