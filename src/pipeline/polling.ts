/** How long to wait before the next look at a running operation, and how transient activity failures are retried. */

export interface PollBounds {
  minMs: number;
  maxMs: number;
  /** The floor of an activity's own looks (KILN_POLL_QUICK_MS); absent in plans made before it was passed on. */
  quickMs?: number;
}

/**
 * The interval between looks is this share of the time the wait has lasted so far, so an operation is seen
 * finished at most ~2 % after it ended (the polling budget in docs/design.md §1), while long waits are not polled needlessly.
 */
export const POLL_FRACTION = 0.02;

/**
 * The share for an operation that reports no progress (all but a gallery version's capture and replication): its end
 * cannot be foreseen, so looking more often is the only way to see it sooner. Half the 2 % rule halves the lateness
 * (about 0.5 % of the wait instead of 1 %); on Azure's 2 s floor it adds looks only past 100 s of waiting (a 420 s
 * wait: 175 looks instead of 122).
 */
export const BLIND_POLL_FRACTION = 0.01;

/**
 * The delay before the next look at an operation that has been running for `elapsedMs`: it starts at the lower
 * bound and grows with the wait, within the bounds. The operation's Retry-After caps it — never later than the
 * service says the answer may change — but does not hold a young wait back: a fixed Retry-After of 10–30 s would
 * alone spend the bake's 2 % polling budget on its short operations.
 */
export function nextPollDelay(elapsedMs: number, bounds: PollBounds, hintMs?: number, fraction = POLL_FRACTION): number {
  const grown = Math.min(bounds.maxMs, Math.max(bounds.minMs, Math.max(0, elapsedMs) * fraction));
  const capped = hintMs !== undefined && Number.isFinite(hintMs) && hintMs >= 0 ? Math.min(grown, Math.max(hintMs, bounds.minMs)) : grown;
  return Math.round(capped);
}

/**
 * How long an activity keeps looking at an operation itself (quick looks: plain requests, no durable timer), in
 * multiples of the durable poller's floor: 1 s on the local default (50 ms), 40 s on Azure (2 s). Most operations a
 * bake awaits on the local default end within it; longer waits go on to durable timers.
 */
export const QUICK_WINDOW_FLOORS = 20;

/** The longest an activity looks at an operation itself before it hands the wait to durable timers. */
export function quickWindowMs(bounds: Pick<PollBounds, 'minMs'>): number {
  return QUICK_WINDOW_FLOORS * bounds.minMs;
}

/**
 * When an operation that reports its progress (a whole percent, rounded down, as Azure's replicationStatus does) can
 * end, counted from now, if it progresses at the pace it has kept since it began `elapsedMs` ago: no sooner than
 * `earliestMs` (the share done was just under percent + 1) and no later than `latestMs` (it was exactly percent).
 * Undefined without a usable percent. An estimate only: the poller looks at the earliest as well as on its own rule.
 */
export function progressEnd(elapsedMs: number, percent: number | undefined): { earliestMs: number; latestMs: number } | undefined {
  if (percent === undefined || !Number.isFinite(percent) || percent <= 0 || percent >= 100 || elapsedMs <= 0) return undefined;
  const whole = Math.floor(percent);
  if (whole <= 0) return undefined;
  return { earliestMs: Math.round((elapsedMs * (99 - whole)) / (whole + 1)), latestMs: Math.round((elapsedMs * (100 - whole)) / whole) };
}

/**
 * The share of a progress-less wait's age between a watch's looks, where quick looks are cheaper than durable ones:
 * the 1 % rule scaled by the floors' ratio (0.2 % on the local default: 10 ms against 50 ms). Undefined where they
 * cost the same (Azure's default) or the plan predates the quick floor.
 */
export function pacedFraction(bounds: PollBounds): number | undefined {
  return bounds.quickMs !== undefined && bounds.quickMs < bounds.minMs ? (BLIND_POLL_FRACTION * bounds.quickMs) / bounds.minMs : undefined;
}

/**
 * The next look at a running operation as a durable poller takes it: `delayMs` on the 2 % rule (1 % for an operation
 * that reports no progress), or sooner where its progress puts the end sooner, and `watchMs`, how long the look itself
 * should keep looking (quick looks) when the estimated end then falls within the quick window (0: one look), `pace`
 * when those looks are paced by the operation's age. `watchedPercent`: the percent of the last watch.
 */
export function nextLook(
  elapsedMs: number,
  bounds: PollBounds,
  status: { retryAfterMs?: number; percent?: number },
  watchedPercent?: number,
): { delayMs: number; watchMs: number; pace?: number } {
  const blind = status.percent === undefined || !Number.isFinite(status.percent);
  // Where an activity's own looks are set cheaper than a durable look (the quick floor below the poller's, as on the
  // local default), a wait with no progress is watched, one quick window per activity, instead of a timer and an
  // activity per look; its looks come on a rule as much denser as they are cheaper (`pace`, counted from the
  // operation's start, above the quick floor), until that rule's interval reaches the window.
  const pace = pacedFraction(bounds);
  if (blind && pace !== undefined && elapsedMs * pace < quickWindowMs(bounds)) {
    return { delayMs: 0, watchMs: quickWindowMs(bounds), pace };
  }
  const ruled = nextPollDelay(elapsedMs, bounds, status.retryAfterMs, blind ? BLIND_POLL_FRACTION : POLL_FRACTION);
  // An estimate is used once per percent: watched at this percent already and still running, the pace has slowed (at
  // 99 % the earliest end is always now), so the 2 % rule decides until the percent moves.
  const fresh = watchedPercent === undefined || Math.floor(status.percent ?? 0) > watchedPercent;
  const end = fresh ? progressEnd(elapsedMs, status.percent) : undefined;
  if (!end) return { delayMs: ruled, watchMs: 0 };
  const delayMs = Math.min(ruled, end.earliestMs);
  const left = end.latestMs - delayMs;
  // Watch across the rest of the estimate, plus one rule interval in case the pace slows; never past the window.
  return { delayMs, watchMs: left <= quickWindowMs(bounds) ? Math.min(quickWindowMs(bounds), left + ruled) : 0 };
}

/**
 * Retry policy for a thrown (transient) activity failure: throttling, 5xx, a dropped connection. Classified
 * permanent failures are returned by the activities, not thrown, so they never reach this policy.
 */
export const TRANSIENT_RETRY = {
  firstRetryIntervalMs: 1_000,
  backoffCoefficient: 2,
  maxRetryIntervalMs: 30_000,
  maxAttempts: 5,
} as const;

/** How many times an operation whose long-running operation ended Failed but retryable is begun in all. */
export const MAX_OPERATION_ATTEMPTS = 3;

/** Looks a polling orchestration (awaitOperation, replicateRegion) takes per execution before it continues as new: an hours-long wait keeps a short history. */
export const LOOKS_PER_EXECUTION = 100;
