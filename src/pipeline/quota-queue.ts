/**
 * The build-VM quota queue: a durable entity per subscription and region where bakes refused a build VM for vCPU
 * quota wait in line, and a bake of Kiln's that has freed its build VM learns whom its cores can help.
 *
 * Decision: the queue only orders WAKES, never grants: Azure's quota is first come at the create, so a woken bake
 * re-checks by trying its create again, and one refused again keeps its place. Waiters also try again on their own
 * backoff timer (quota freed by others than Kiln's bakes, a freer that crashed), so the queue is an accelerator and
 * never the only way on. One entity per region, not per family: a refusal on the regional total ('Total Regional
 * Cores') is helped by a VM of any family. Which family a VM size belongs to is learned from the refusals (Azure names
 * the family there); a freed VM of a size no waiter was refused for helps the regional-total waiters and those of its
 * own size. A waiter that stops coming back drops out, and a woken one whose bake is gone is replaced at once (the
 * freer says so), so a dead bake never holds the line.
 */

import type { EntityContext } from 'durable-functions';

export interface QuotaWaiter {
  runId: string;
  /** The quota Azure named in the refusal, lower-case ('standarddsv3family cores', 'total regional cores'). */
  quota: string;
  /** The build VM size, lower-case. */
  vmSize: string;
  /** vCPUs the VM needs, when the refusal said. */
  cores?: number;
  seenAt: string;
  /** A waiter not seen for this long has given up (its bake ended without leaving). */
  staleAfterMs: number;
  /** The freer whose wake this waiter has not answered yet. */
  wokenBy?: string;
}

export interface QuotaQueueState {
  waiters: QuotaWaiter[];
  /** VM size → the family quota it was refused on and its vCPUs, learned from refusals. */
  sizes: Record<string, { quota: string; cores?: number }>;
  /** The last freers heard, so a VM announced twice wakes nobody twice. */
  freers: string[];
}

export interface QuotaWaitRequest {
  runId: string;
  quota: string;
  vmSize: string;
  cores?: number;
  now: string;
  staleAfterMs: number;
}

export interface QuotaWaitResult {
  /** Waiters before this one in line. */
  ahead: number;
}

export interface QuotaLeaveRequest {
  runId: string;
}

export interface QuotaFreedRequest {
  /** The bake whose build VM is gone. */
  runId: string;
  vmSize: string;
  now: string;
  /** Waiters this freer was told to wake whose bakes are no longer running: drop them and name others. */
  gone?: string[];
}

export interface QuotaFreedResult {
  /** The waiters to wake now. */
  wake: string[];
}

export interface QuotaWaitingRequest {
  now: string;
}

export interface QuotaWaitingResult {
  /** Bakes in line now. */
  waiting: number;
}

const FREERS_KEPT = 200;
const REGIONAL = /^total regional/;

const emptyQueue = (): QuotaQueueState => ({ waiters: [], sizes: {}, freers: [] });
const fresh = (state: QuotaQueueState, now: string) => state.waiters.filter((w) => Date.parse(now) - Date.parse(w.seenAt) <= w.staleAfterMs);

/** Joins the line (or keeps the place held, answering an earlier wake). */
export function wait(state: QuotaQueueState, request: QuotaWaitRequest): { state: QuotaQueueState; result: QuotaWaitResult } {
  const quota = request.quota.toLowerCase();
  const vmSize = request.vmSize.toLowerCase();
  const waiter: QuotaWaiter = {
    runId: request.runId, quota, vmSize, seenAt: request.now, staleAfterMs: request.staleAfterMs,
    ...(request.cores !== undefined ? { cores: request.cores } : {}),
  };
  const waiters = fresh(state, request.now);
  const place = waiters.findIndex((w) => w.runId === request.runId);
  if (place === -1) waiters.push(waiter);
  else waiters[place] = waiter;
  const sizes = REGIONAL.test(quota) ? state.sizes : { ...state.sizes, [vmSize]: { quota, ...(request.cores !== undefined ? { cores: request.cores } : {}) } };
  return { state: { ...state, waiters, sizes }, result: { ahead: place === -1 ? waiters.length - 1 : place } };
}

/** How many wait now: a bake deleting its build VM watches the deletion only when someone does. */
export function waiting(state: QuotaQueueState, request: QuotaWaitingRequest): QuotaWaitingResult {
  return { waiting: fresh(state, request.now).length };
}

/** Leaves the line: the create went through, or the bake ended. */
export function leave(state: QuotaQueueState, request: QuotaLeaveRequest): QuotaQueueState {
  return { ...state, waiters: state.waiters.filter((w) => w.runId !== request.runId) };
}

/**
 * A freer's build VM is gone: names, first come first, the waiters its cores can help that nobody else woke, as many
 * as its cores cover (one when its size's cores are unknown). Waiters it woke before and that are still alive count
 * against those cores; `gone` ones are dropped and replaced.
 */
export function freed(state: QuotaQueueState, request: QuotaFreedRequest): { state: QuotaQueueState; result: QuotaFreedResult } {
  const repeat = state.freers.includes(request.runId);
  if (repeat && !request.gone?.length) return { state, result: { wake: [] } };
  const vmSize = request.vmSize.toLowerCase();
  const family = state.sizes[vmSize];
  const helps = (w: QuotaWaiter) => REGIONAL.test(w.quota) || w.vmSize === vmSize || (family !== undefined && family.quota === w.quota);
  const gone = new Set(request.gone ?? []);
  const waiters = fresh(state, request.now).filter((w) => !gone.has(w.runId));
  // What is left of the freed cores once the waiters this freer woke before (and still alive) are served.
  const mine = waiters.filter((w) => w.wokenBy === request.runId);
  let left = family?.cores === undefined ? undefined : family.cores - mine.reduce((sum, w) => sum + (w.cores ?? family.cores!), 0);
  let woken = mine.length;
  const wake: string[] = [];
  const next = waiters.map((w) => {
    if (w.wokenBy !== undefined || !helps(w)) return w;
    // Unknown cores (the freed VM's or the waiter's): one VM frees room for one VM.
    const fits = left === undefined || w.cores === undefined ? woken === 0 : w.cores <= left;
    if (!fits) return w;
    if (left !== undefined) left -= w.cores ?? left;
    woken++;
    wake.push(w.runId);
    return { ...w, wokenBy: request.runId };
  });
  const freers = repeat ? state.freers : [...state.freers, request.runId].slice(-FREERS_KEPT);
  return { state: { ...state, waiters: next, freers }, result: { wake } };
}

/**
 * The entity function: operations `wait` (returns QuotaWaitResult), `leave` (a signal), `waiting` (returns
 * QuotaWaitingResult) and `freed` (returns QuotaFreedResult).
 */
export function buildQuotaEntity(context: EntityContext<QuotaQueueState>): void {
  const state = context.df.getState(emptyQueue) ?? emptyQueue();
  switch (context.df.operationName) {
    case 'wait': {
      const outcome = wait(state, context.df.getInput<QuotaWaitRequest>()!);
      context.df.setState(outcome.state);
      context.df.return(outcome.result);
      return;
    }
    case 'leave': {
      context.df.setState(leave(state, context.df.getInput<QuotaLeaveRequest>()!));
      return;
    }
    case 'waiting': {
      context.df.return(waiting(state, context.df.getInput<QuotaWaitingRequest>()!));
      return;
    }
    case 'freed': {
      const outcome = freed(state, context.df.getInput<QuotaFreedRequest>()!);
      context.df.setState(outcome.state);
      context.df.return(outcome.result);
      return;
    }
    default:
      throw new Error(`buildQuota: expected operation wait, leave, waiting or freed, found ${JSON.stringify(context.df.operationName)}`);
  }
}

/** The entity key of a build VM's quota line: its subscription and region, lower-case, free of `/` and `@`. */
export function quotaKey(vmId: string, location: string): string {
  const subscription = /^\/subscriptions\/([^/]+)/i.exec(vmId)?.[1];
  if (!subscription) throw new Error(`quotaKey: expected a VM id starting /subscriptions/{id}, found ${JSON.stringify(vmId)}`);
  return encodeURIComponent(`${subscription}|${location}`.toLowerCase()).replace(/%7C/gi, '|');
}
