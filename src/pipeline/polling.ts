/** How long to wait before the next look at a running operation, and how transient activity failures are retried. */

export interface PollBounds {
  minMs: number;
  maxMs: number;
}

/** Growth of the interval between looks when the operation gives no hint. */
const GROWTH = 1.5;

/**
 * The delay before look number `attempt` (0 = the first look after starting). The operation's own hint
 * (Retry-After) wins when it gives one; otherwise the interval starts at the lower bound and grows, so short
 * operations are seen finishing quickly and long ones are not polled needlessly. Always within the bounds.
 */
export function nextPollDelay(attempt: number, bounds: PollBounds, hintMs?: number): number {
  const grown = bounds.minMs * GROWTH ** Math.max(0, attempt);
  const wanted = hintMs !== undefined && Number.isFinite(hintMs) && hintMs >= 0 ? hintMs : grown;
  return Math.round(Math.min(bounds.maxMs, Math.max(bounds.minMs, wanted)));
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
