/**
 * The bake lock: one bake per gallery image (or managed image) at a time, as a durable entity keyed by the image id.
 *
 * Decision: a second bake of the same image WAITS (it does not fail), in a first-come queue; its custom status says
 * which run holds the lock. The lock hands over: `release` answers the next waiter, and the releasing bake wakes it
 * (event `lockReleased`), so queued bakes run back to back. Waiters also ask again on a slow timer, which keeps
 * their place and notices a holder that died without releasing (terminated, crashed beyond recovery): its lease
 * ends. A waiter that stops asking drops out of the queue, so neither can block an image for ever.
 */

import type { EntityContext } from 'durable-functions';

export interface BakeLockState {
  holder?: { runId: string; leaseUntil: string };
  queue: { runId: string; seenAt: string; arrivedAt?: string }[];
}

export interface AcquireRequest {
  runId: string;
  /** The caller's current time (the orchestration's, so replays agree). */
  now: string;
  /** Until when the lock is the caller's if granted, unless released earlier. */
  leaseUntil: string;
  /** A queued waiter not seen for this long has given up. */
  staleAfterMs: number;
  /** When the caller's bake was started: waiters queue in this order, so bakes of one image publish in the order they arrived. */
  arrivedAt?: string;
}

export interface AcquireResult {
  granted: boolean;
  /** The run holding the lock (the caller itself when granted). */
  holder: string;
}

export interface ReleaseRequest {
  runId: string;
}

export interface ReleaseResult {
  /** The waiter first in the queue once the lock is free, to be woken; none when someone still holds it. */
  next?: string;
}

const at = (iso: string) => Date.parse(iso);

/** Grants the lock to the caller if it is free (or its lease ended) and the caller is first in the queue. */
export function acquire(state: BakeLockState, request: AcquireRequest): { state: BakeLockState; result: AcquireResult } {
  const now = at(request.now);
  const holder = state.holder && at(state.holder.leaseUntil) > now ? state.holder : undefined;
  if (holder?.runId === request.runId) {
    // Asking again while holding (a replayed or retried call) renews the lease.
    const renewed = { ...state, holder: { runId: request.runId, leaseUntil: request.leaseUntil } };
    return { state: renewed, result: { granted: true, holder: request.runId } };
  }
  // The caller keeps its place (or joins at the end); waiters that stopped asking drop out.
  const queue = state.queue.filter((w) => w.runId === request.runId || now - at(w.seenAt) <= request.staleAfterMs);
  const place = queue.findIndex((w) => w.runId === request.runId);
  const seen = { runId: request.runId, seenAt: request.now, ...(request.arrivedAt ? { arrivedAt: request.arrivedAt } : {}) };
  if (place !== -1) queue[place] = seen;
  else {
    // Behind everyone who arrived earlier (or says nothing), ahead of those who arrived later.
    const later = request.arrivedAt === undefined ? -1 : queue.findIndex((w) => w.arrivedAt !== undefined && at(w.arrivedAt) > at(request.arrivedAt!));
    if (later === -1) queue.push(seen);
    else queue.splice(later, 0, seen);
  }
  if (!holder && queue[0]?.runId === request.runId) {
    return {
      state: { holder: { runId: request.runId, leaseUntil: request.leaseUntil }, queue: queue.slice(1) },
      result: { granted: true, holder: request.runId },
    };
  }
  return { state: { ...(holder ? { holder } : {}), queue }, result: { granted: false, holder: holder?.runId ?? queue[0]!.runId } };
}

/** Frees the lock if the caller holds it, and takes the caller out of the queue. Releasing twice is harmless. */
export function release(state: BakeLockState, request: ReleaseRequest): { state: BakeLockState; result: ReleaseResult } {
  const queue = state.queue.filter((w) => w.runId !== request.runId);
  const holder = state.holder?.runId === request.runId ? undefined : state.holder;
  const next = holder ? undefined : queue[0]?.runId;
  return { state: { ...(holder ? { holder } : {}), queue }, result: next ? { next } : {} };
}

/** The entity function: operations `acquire` (returns AcquireResult) and `release`. */
export function bakeLockEntity(context: EntityContext<BakeLockState>): void {
  const state = context.df.getState(() => ({ queue: [] })) ?? { queue: [] };
  switch (context.df.operationName) {
    case 'acquire': {
      const outcome = acquire(state, context.df.getInput<AcquireRequest>()!);
      context.df.setState(outcome.state);
      context.df.return(outcome.result);
      return;
    }
    case 'release': {
      const outcome = release(state, context.df.getInput<ReleaseRequest>()!);
      context.df.setState(outcome.state);
      context.df.return(outcome.result);
      return;
    }
    default:
      throw new Error(`bakeLock: expected operation acquire or release, found ${JSON.stringify(context.df.operationName)}`);
  }
}

/** The entity key for an image id: lower-case, and free of the `/` and `@` that entity ids and URLs reserve. */
export function lockKey(imageId: string): string {
  return encodeURIComponent(imageId.toLowerCase()).replace(/%2F/gi, '|');
}
