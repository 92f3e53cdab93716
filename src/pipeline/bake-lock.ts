/**
 * The bake lock: one bake per gallery image (or managed image) at a time, as a durable entity keyed by the image id.
 *
 * Decision: a second bake of the same image WAITS (it does not fail), in a first-come queue; its custom status says
 * which run holds the lock. Arrival is when the API or a trigger accepted the bake (the run's createdAt): it
 * `enqueue`s the run on every image lock before starting the orchestration, so bakes of one image are granted (and
 * version) in that order even when a later one reaches its lock step first. Only the head of the queue is granted. The lock hands over: `release`
 * answers the next waiter, and whoever released wakes it (event `lockReleased`): the bake itself, or for a run that
 * ended without releasing, the janitor through the `releaseBakeLocks` orchestration. A run that ends releases
 * every lock it was queued on, also before its lock step (a failed plan, a cancel), so its place never blocks the
 * queue. Waiters also ask again on a slow timer, which keeps their place and notices a holder that died without
 * releasing (its lease ends). A waiter that stops asking drops out of the queue, and so does a place taken at
 * acceptance whose bake never asks within UNASKED_GRACE_MS: neither can block an image for ever.
 */

import type { EntityContext } from 'durable-functions';
import type { BakeSpec } from '../template/spec.ts';

export interface BakeLockState {
  holder?: { runId: string; leaseUntil: string };
  queue: Waiter[];
}

export interface Waiter {
  runId: string;
  seenAt: string;
  arrivedAt?: string;
  /** Queued at acceptance and not asked for the lock yet. */
  unasked?: boolean;
  /** Someone held the lock after this run joined the queue: the version it planned may be taken. */
  behind?: boolean;
}

/** How long a place taken at acceptance is kept for a bake that has not asked yet (the janitor's start grace and more). */
export const UNASKED_GRACE_MS = 15 * 60_000;

export interface EnqueueRequest {
  runId: string;
  /** When the API or trigger accepted the bake. */
  now: string;
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
  /** Granted after another run held the lock since the caller joined the queue: plan the version again. */
  behind?: boolean;
}

export interface ReleaseRequest {
  runId: string;
}

export interface ReleaseResult {
  /** The waiter first in the queue once the lock is free, to be woken; none when someone still holds it. */
  next?: string;
}

const at = (iso: string) => Date.parse(iso);

/**
 * Queues the run in order of acceptance time (requests accepted together may signal in either order; equal times keep
 * signal order). Asking again keeps the place it has.
 */
export function enqueue(state: BakeLockState, request: EnqueueRequest): BakeLockState {
  if (state.holder?.runId === request.runId || state.queue.some((w) => w.runId === request.runId)) return state;
  const holder = state.holder && at(state.holder.leaseUntil) > at(request.now) ? state.holder : undefined;
  const waiter: Waiter = { runId: request.runId, seenAt: request.now, arrivedAt: request.now, unasked: true, behind: holder !== undefined };
  const later = state.queue.findIndex((w) => w.arrivedAt !== undefined && at(w.arrivedAt) > at(request.now));
  const queue = later === -1 ? [...state.queue, waiter] : [...state.queue.slice(0, later), waiter, ...state.queue.slice(later)];
  return { ...state, queue };
}

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
  const queue = state.queue.filter((w) => w.runId === request.runId || now - at(w.seenAt) <= (w.unasked ? Math.max(request.staleAfterMs, UNASKED_GRACE_MS) : request.staleAfterMs));
  const place = queue.findIndex((w) => w.runId === request.runId);
  const seen: Waiter = {
    runId: request.runId,
    seenAt: request.now,
    ...(request.arrivedAt ? { arrivedAt: request.arrivedAt } : {}),
    // Only a holder now goes before a newcomer for sure; those queued ahead mark it behind when they are granted.
    behind: place === -1 ? holder !== undefined : queue[place]!.behind === true,
  };
  if (place !== -1) queue[place] = { ...seen, ...(queue[place]!.arrivedAt ? { arrivedAt: queue[place]!.arrivedAt } : {}) };
  else {
    // Behind everyone who arrived earlier (or says nothing), ahead of those who arrived later (the caller's grant
    // marks them behind; a caller that never gets it costs them no replan).
    const later = request.arrivedAt === undefined ? -1 : queue.findIndex((w) => w.arrivedAt !== undefined && at(w.arrivedAt) > at(request.arrivedAt!));
    queue.splice(later === -1 ? queue.length : later, 0, seen);
  }
  if (!holder && queue[0]?.runId === request.runId) {
    const granted = queue[0];
    // Everyone still queued will plan its version after this holder's.
    const rest = queue.slice(1).map((w) => ({ ...w, behind: true }));
    return {
      state: { holder: { runId: request.runId, leaseUntil: request.leaseUntil }, queue: rest },
      result: { granted: true, holder: request.runId, ...(granted.behind ? { behind: true } : {}) },
    };
  }
  return { state: { ...(holder ? { holder } : {}), queue }, result: { granted: false, holder: holder?.runId ?? queue[0]!.runId } };
}

/** Frees the lock if the caller holds it, and takes the caller out of the queue. Releasing twice is harmless. */
export function release(state: BakeLockState, request: ReleaseRequest): { state: BakeLockState; result: ReleaseResult } {
  const queue = state.queue.filter((w) => w.runId !== request.runId);
  const held = state.holder?.runId === request.runId;
  const holder = held ? undefined : state.holder;
  // The holder leaving frees the lock; a run leaving from the head of the queue (it ended before it was granted)
  // makes the next one first: either way the new head is woken. Anyone else leaving changes nothing for it.
  const next = !holder && (held || state.queue[0]?.runId === request.runId) ? queue[0]?.runId : undefined;
  return { state: { ...(holder ? { holder } : {}), queue }, result: next ? { next } : {} };
}

/** The entity function: operations `enqueue` (a signal at acceptance), `acquire` (returns AcquireResult) and `release`. */
export function bakeLockEntity(context: EntityContext<BakeLockState>): void {
  const state = context.df.getState(() => ({ queue: [] })) ?? { queue: [] };
  switch (context.df.operationName) {
    case 'enqueue': {
      context.df.setState(enqueue(state, context.df.getInput<EnqueueRequest>()!));
      return;
    }
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
      throw new Error(`bakeLock: expected operation enqueue, acquire or release, found ${JSON.stringify(context.df.operationName)}`);
  }
}

/** The entity key for an image id: lower-case, and free of the `/` and `@` that entity ids and URLs reserve. */
export function lockKey(imageId: string): string {
  return encodeURIComponent(imageId.toLowerCase()).replace(/%2F/gi, '|');
}

/** Every image a bake of `spec` writes (gallery images and managed images) by lock key, in key order: the order they are taken in. */
export function imageLocks(spec: Pick<BakeSpec, 'distributions'>): Map<string, string> {
  const images = spec.distributions.flatMap((d) => (d.type === 'SharedImage' ? [d.galleryImageId] : d.type === 'ManagedImage' ? [d.imageId] : []));
  return new Map(images.map((id) => [lockKey(id), id] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The lock keys of every image a bake of `spec` writes, sorted. */
export function imageLockKeys(spec: Pick<BakeSpec, 'distributions'>): string[] {
  return [...imageLocks(spec).keys()];
}
