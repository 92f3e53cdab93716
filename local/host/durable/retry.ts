/** Host-side retries for callActivityWithRetry / callSubOrchestratorWithRetry, mirroring DTFx's RetryInterceptor. */
import type { RetryOptions } from './actions.ts';
import type { Failure } from './history.ts';

/** What the engine remembers about one retried task between episodes (keyed by the first attempt's id). */
export interface RetryState {
  kind: 'activity' | 'subOrchestration';
  name: string;
  /** JSON text of the input handed to each attempt. */
  input: string;
  /** Sub-orchestrations: the child's instance id, reused by every attempt. */
  childInstanceId?: string;
  version?: string;
  options: RetryOptions;
  failures: number;
  startedAt: number;
  /** Id of the attempt or the retry timer the SDK is waiting for now. */
  currentId: number;
  phase: 'attempt' | 'timer';
  lastFailure?: Failure;
  /** Set once the retry timeout passed: the remaining attempts fail without running. */
  timedOut?: boolean;
}

/** Delay before attempt `failures + 1`: first interval × backoff^(failures−1), capped by the max interval. */
export function retryDelayMs(options: RetryOptions, failures: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const delay = options.firstRetryIntervalInMilliseconds * coefficient ** Math.max(0, failures - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap !== undefined && cap > 0 ? Math.min(delay, cap) : delay;
}

/** True once the retry timeout (from the first attempt) has passed: later attempts then fail at once. */
export function retryTimedOut(state: RetryState, now: number): boolean {
  const timeout = state.options.retryTimeoutInMilliseconds;
  return timeout !== undefined && timeout > 0 && timeout !== Number.MAX_SAFE_INTEGER && now - state.startedAt >= timeout;
}

/** The SDK gives up (and throws the last failure) after the timer that follows attempt `maxNumberOfAttempts`. */
export function attemptsLeft(state: RetryState): boolean {
  return state.failures < state.options.maxNumberOfAttempts;
}
