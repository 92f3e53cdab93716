/** The build-VM quota line (src/pipeline/quota-queue.ts): who waits, in what order, and whom a freed build VM wakes. */

import { describe, expect, it } from 'vitest';
import { freed, leave, quotaKey, wait, waiting, type QuotaQueueState, type QuotaWaitRequest } from '../../src/pipeline/quota-queue.ts';

const T0 = Date.parse('2026-12-06T03:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const FAMILY = 'standardDDSv4Family Cores';
const empty = (): QuotaQueueState => ({ waiters: [], sizes: {}, freers: [] });
const asking = (runId: string, s = 0, extra: Partial<QuotaWaitRequest> = {}): QuotaWaitRequest =>
  ({ runId, quota: FAMILY, vmSize: 'Standard_D2ds_v4', cores: 2, now: at(s), staleAfterMs: 300_000, ...extra });

function line(...requests: QuotaWaitRequest[]): QuotaQueueState {
  return requests.reduce((state, request) => wait(state, request).state, empty());
}

describe('build quota line', () => {
  it('answers how many wait ahead, and asking again keeps the place', () => {
    let state = empty();
    const places = ['a', 'b', 'c'].map((id, i) => {
      const outcome = wait(state, asking(id, i));
      state = outcome.state;
      return outcome.result.ahead;
    });
    expect(places).toEqual([0, 1, 2]);
    expect(wait(state, asking('b', 10)).result.ahead).toBe(1);
    expect(wait(state, asking('b', 10)).state.waiters.map((w) => w.runId)).toEqual(['a', 'b', 'c']);
  });

  it('a freed VM wakes the first waiter its cores cover, and the next free the next one (first come, first woken)', () => {
    let state = line(asking('a'), asking('b', 1), asking('c', 2));
    const first = freed(state, { runId: 'x', vmSize: 'Standard_D2ds_v4', now: at(30) });
    expect(first.result.wake).toEqual(['a']);
    state = first.state;
    // A woken waiter is not woken again by the next free; the next in line is.
    expect(freed(state, { runId: 'y', vmSize: 'Standard_D2ds_v4', now: at(31) }).result.wake).toEqual(['b']);
  });

  it('a bigger VM wakes as many waiters as its cores cover, once its size is known from a refusal', () => {
    const state = line(asking('big', 0, { vmSize: 'Standard_D8ds_v4', cores: 8 }), asking('a', 1), asking('b', 2), asking('c', 3), asking('d', 4), asking('e', 5));
    // The 8-core waiter is first; a freed 8-core VM covers it and nothing more.
    expect(freed(state, { runId: 'x', vmSize: 'Standard_D8ds_v4', now: at(30) }).result.wake).toEqual(['big']);
    const withoutBig = leave(state, { runId: 'big' });
    expect(freed(withoutBig, { runId: 'x', vmSize: 'Standard_D8ds_v4', now: at(30) }).result.wake).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a VM of another family wakes only those refused on the regional total', () => {
    const state = line(
      asking('a'),
      asking('other', 1, { quota: 'standardESv5Family Cores', vmSize: 'Standard_E2s_v5' }),
      asking('regional', 2, { quota: 'Total Regional Cores', vmSize: 'Standard_F2s_v2' }),
    );
    expect(freed(state, { runId: 'x', vmSize: 'Standard_E2s_v5', now: at(30) }).result.wake).toEqual(['other']);
    // A size no refusal named: its family is unknown; it helps the regional total and its own size only.
    expect(freed(state, { runId: 'x', vmSize: 'Standard_B2s', now: at(30) }).result.wake).toEqual(['regional']);
  });

  it('a VM announced twice wakes nobody the second time', () => {
    const once = freed(line(asking('a'), asking('b', 1)), { runId: 'x', vmSize: 'Standard_D2ds_v4', now: at(30) });
    expect(once.result.wake).toEqual(['a']);
    expect(freed(once.state, { runId: 'x', vmSize: 'Standard_D2ds_v4', now: at(40) }).result.wake).toEqual([]);
  });

  it('a woken waiter whose bake is gone is replaced by the next; one that came back and was refused again is woken by the next free', () => {
    const state = line(asking('dead'), asking('b', 1), asking('c', 2));
    const woke = freed(state, { runId: 'x', vmSize: 'Standard_D2ds_v4', now: at(30) });
    expect(woke.result.wake).toEqual(['dead']);
    const replaced = freed(woke.state, { runId: 'x', vmSize: 'Standard_D2ds_v4', now: at(30), gone: ['dead'] });
    expect(replaced.result.wake).toEqual(['b']);
    expect(replaced.state.waiters.map((w) => w.runId)).toEqual(['b', 'c']);
    // b tried, was refused again (someone else took the cores) and asks again: it keeps the head of the line.
    const back = wait(replaced.state, asking('b', 31));
    expect(back.result.ahead).toBe(0);
    expect(freed(back.state, { runId: 'y', vmSize: 'Standard_D2ds_v4', now: at(40) }).result.wake).toEqual(['b']);
  });

  it('a waiter that stopped coming back drops out and is not woken, nor counted as waiting', () => {
    const state = line(asking('quiet'), asking('b', 200));
    expect(waiting(state, { now: at(250) })).toEqual({ waiting: 2 });
    expect(waiting(state, { now: at(301) })).toEqual({ waiting: 1 });
    expect(freed(state, { runId: 'x', vmSize: 'Standard_D2ds_v4', now: at(301) }).result.wake).toEqual(['b']);
    expect(wait(state, asking('c', 301)).result.ahead).toBe(1);
  });

  it('keys the line by subscription and region', () => {
    const vm = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kiln-staging-x/providers/Microsoft.Compute/virtualMachines/kiln-vm';
    expect(quotaKey(vm, 'EastUS')).toBe('00000000-0000-0000-0000-000000000000|eastus');
    expect(() => quotaKey('kiln-vm', 'eastus')).toThrow(/expected a VM id starting \/subscriptions/);
  });
});
