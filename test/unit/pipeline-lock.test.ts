import { describe, expect, it } from 'vitest';
import { acquire, enqueue, lockKey, release, UNASKED_GRACE_MS, type BakeLockState } from '../../src/pipeline/bake-lock.ts';

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
    // run-a held the lock meanwhile: run-b is told to plan its version again.
    expect(first.result).toEqual({ granted: true, holder: 'run-b', behind: true });
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

  it('grants only the head of the queue taken at acceptance, whoever asks first', () => {
    let state: BakeLockState = { queue: [] };
    for (const [runId, minute] of [['run-a', 0], ['run-b', 0], ['run-c', 0]] as const) state = enqueue(state, { runId, now: t(minute) });
    // Accepting again keeps the place.
    expect(enqueue(state, { runId: 'run-a', now: t(1) })).toBe(state);
    // A bake accepted earlier whose signal lands later still goes before those accepted after it.
    expect(enqueue(enqueue({ queue: [] }, { runId: 'run-late', now: t(2) }), { runId: 'run-early', now: t(1) }).queue.map((w) => w.runId)).toEqual(['run-early', 'run-late']);
    const c = ask(state, 'run-c', 1);
    expect(c.result).toEqual({ granted: false, holder: 'run-a' });
    const b = ask(c.state, 'run-b', 1);
    expect(b.result.granted).toBe(false);
    expect(b.state.queue.map((w) => w.runId)).toEqual(['run-a', 'run-b', 'run-c']);
    const a = ask(b.state, 'run-a', 2);
    // First in line, nobody held the lock since it was accepted: its planned version stands.
    expect(a.result).toEqual({ granted: true, holder: 'run-a' });
    const next = release(a.state, { runId: 'run-a' });
    expect(next.result).toEqual({ next: 'run-b' });
    // Granted after another bake held the lock: plan the version again.
    expect(ask(next.state, 'run-b', 3).result).toEqual({ granted: true, holder: 'run-b', behind: true });
  });

  it('a run that leaves from the head before asking wakes the next; one leaving from further back wakes nobody', () => {
    let state: BakeLockState = { queue: [] };
    for (const runId of ['run-a', 'run-b', 'run-c']) state = enqueue(state, { runId, now: t(0) });
    const middle = release(state, { runId: 'run-b' });
    expect(middle.result).toEqual({});
    const head = release(middle.state, { runId: 'run-a' });
    expect(head.result).toEqual({ next: 'run-c' });
    // Nobody held the lock: run-c's version stands.
    expect(ask(head.state, 'run-c', 1).result).toEqual({ granted: true, holder: 'run-c' });
  });

  it('keeps a place taken at acceptance past the waiters\' staleness, and drops it after UNASKED_GRACE_MS', () => {
    const state = enqueue(enqueue({ queue: [] }, { runId: 'run-a', now: t(0) }), { runId: 'run-b', now: t(0) });
    // 10 minutes: stale for a waiter (5), not for a bake still planning.
    expect(ask(state, 'run-b', 10).result).toEqual({ granted: false, holder: 'run-a' });
    const late = ask(state, 'run-b', UNASKED_GRACE_MS / 60_000 + 1);
    expect(late.result.granted).toBe(true);
    expect(late.state.queue).toEqual([]);
  });

  it('marks nobody behind who will not be: a newcomer ahead of later arrivals, and those it passed when it leaves without the lock', () => {
    const askArrived = (st: BakeLockState, runId: string, minute: number, arrived: number) =>
      acquire(st, { runId, now: t(minute), leaseUntil: t(minute + 60), staleAfterMs: 5 * 60_000, arrivedAt: t(arrived) });
    // A bake that took no place at acceptance asks when only later arrivals wait: it goes first, its version stands.
    const late = enqueue({ queue: [] }, { runId: 'run-late', now: t(2) });
    expect(askArrived(late, 'run-early', 3, 1).result).toEqual({ granted: true, holder: 'run-early' });
    // It asks behind an earlier arrival that has not asked yet, then ends without the lock; so does that one.
    let state = enqueue(late, { runId: 'run-first', now: t(0) });
    state = askArrived(state, 'run-early', 3, 1).state;
    state = release(release(state, { runId: 'run-early' }).state, { runId: 'run-first' }).state;
    // Nobody ever held the lock: the last arrival's version stands.
    expect(ask(state, 'run-late', 4).result).toEqual({ granted: true, holder: 'run-late' });
  });
});
