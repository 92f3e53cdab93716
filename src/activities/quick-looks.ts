/**
 * Quick looks: an activity that has begun an operation (or is asked to watch one whose end is near) keeps looking at
 * it itself, with plain requests and no durable timer, for a short window bounded by the settings, and answers with
 * the operation ended; only longer waits go back to the orchestration's durable timers (docs/design.md §1).
 */

import { BLIND_POLL_FRACTION, nextPollDelay, quickWindowMs } from '../pipeline/polling.ts';
import type { OperationRef, OperationStatus, WatchOperationInput } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { pollOperation } from './poll.ts';

/** Time as the looks see it; tests pass a clock they move themselves. */
export interface LookClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: LookClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface QuickLookWindow {
  /** When the wait began (ms since the epoch): the interval grows with it (a quick look rarely knows a percent). */
  startedAt: number;
  /** No look starts after this (ms since the epoch). */
  until: number;
  /** Shortest interval between looks (KILN_POLL_QUICK_MS). */
  floorMs: number;
  /** Longest interval between looks (KILN_POLL_MAX_MS). */
  maxMs: number;
  /** The share of the wait's age between looks; default the 1 % rule. */
  fraction?: number;
}

/**
 * Looks again (`look`, given the last answer) while `running` says so: the first look at once, then on the 1 % rule
 * (or the window's `fraction`, counted from `startedAt`) above the floor while the window lasts. A look that throws is
 * a transient refusal (throttling, a dropped connection; permanent ones come back as answers): the looking stops with
 * the last answer, and the durable poller, with its retry policy, looks next, so one refused read does not send the
 * whole begin… through the retry again.
 */
export async function lookQuickly<T>(
  first: T,
  look: (last: T) => Promise<T>,
  running: (answer: T) => boolean,
  window: QuickLookWindow,
  clock: LookClock = realClock,
): Promise<T> {
  let answer = first;
  for (let looks = 0; running(answer); looks++) {
    if (looks > 0) {
      const now = clock.now();
      const delay = nextPollDelay(now - window.startedAt, { minMs: window.floorMs, maxMs: window.maxMs }, undefined, window.fraction ?? BLIND_POLL_FRACTION);
      if (now + delay > window.until) return answer;
      await clock.sleep(delay);
    }
    try {
      answer = await look(answer);
    } catch {
      return answer;
    }
  }
  return answer;
}

/** The quick-look window of this process's settings, from `startedAt`, at most `forMs` long (default: the whole window). */
export function quickLookWindow(startedAt: number, forMs?: number): QuickLookWindow {
  const { config } = activityEnvironment();
  const windowMs = quickWindowMs({ minMs: config.pollMinMs });
  return { startedAt, until: startedAt + Math.min(windowMs, forMs ?? windowMs), floorMs: config.pollQuickMs, maxMs: config.pollMaxMs };
}

const inProgress = (status: OperationStatus): boolean => status.state === 'InProgress';

/** One look at an operation (pollOperation). */
export type Look = (ref: OperationRef) => OperationStatus | Promise<OperationStatus>;

/** The next look at a status `inProgress` let through. */
const again = (look: Look) => async (last: OperationStatus) => look((last as Extract<OperationStatus, { state: 'InProgress' }>).operation);

/**
 * Wraps a begin… activity: an operation still running after `begin` is looked at (`look`) quickly for the window
 * (`windowFrom` its start), so one that ends within it comes back ended, with no poller, timer or extra activity.
 */
export function lookingQuickly<I>(
  begin: (input: I) => OperationStatus | Promise<OperationStatus>,
  look: Look = pollOperation,
  windowFrom: (startedAt: number) => QuickLookWindow = quickLookWindow,
): (input: I) => Promise<OperationStatus> {
  return async (input) => {
    const startedAt = Date.now();
    const begun = await begin(input);
    return lookQuickly(begun, again(look), inProgress, windowFrom(startedAt));
  };
}

/**
 * watchOperation: the durable poller's look at an operation whose estimated end is near, looking quickly across it; or,
 * `paced`, at a progress-less wait where quick looks are cheaper than durable ones (looks paced by its age).
 */
export async function watchOperation({ operation, forMs, paced }: WatchOperationInput): Promise<OperationStatus> {
  const unseen: OperationStatus = { state: 'InProgress', operation };
  const now = Date.now();
  const window = quickLookWindow(now, forMs);
  const began = paced ? Date.parse(paced.from) : NaN;
  const pacedWindow = paced && Number.isFinite(began) && began <= now && paced.fraction > 0 ? { ...window, startedAt: began, fraction: paced.fraction } : window;
  return lookQuickly(unseen, again(pollOperation), inProgress, pacedWindow);
}
