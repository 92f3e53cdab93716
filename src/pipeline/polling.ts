/** How long to wait before the next look at a running operation, and how transient activity failures are retried. */

export interface PollBounds {
  minMs: number;
  maxMs: number;
}

/**
 * The interval between looks is this share of the time the wait has lasted so far, so an operation is seen
 * finished at most ~2 % after it ended (the polling budget in docs/design.md §1), while long waits are not polled needlessly.
 */
export const POLL_FRACTION = 0.02;

/**
 * The delay before the next look at an operation that has been running for `elapsedMs`: it starts at the lower
 * bound and grows with the wait, within the bounds. The operation's Retry-After caps it — never later than the
 * service says the answer may change — but does not hold a young wait back: a fixed Retry-After of 10–30 s would
 * alone spend the bake's 2 % polling budget on its short operations.
 */
export function nextPollDelay(elapsedMs: number, bounds: PollBounds, hintMs?: number): number {
  const grown = Math.min(bounds.maxMs, Math.max(bounds.minMs, Math.max(0, elapsedMs) * POLL_FRACTION));
  const capped = hintMs !== undefined && Number.isFinite(hintMs) && hintMs >= 0 ? Math.min(grown, Math.max(hintMs, bounds.minMs)) : grown;
  return Math.round(capped);
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
