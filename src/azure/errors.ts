/** Sorts Azure failures into transient (retry the activity) and permanent (fail the bake now), naming the resource. */

/** The error name tells the orchestration what to do; Durable passes it on as FailureDetails.errorType. */
export const TRANSIENT_ERROR = 'TransientAzureError';
export const PERMANENT_ERROR = 'PermanentKilnError';

/** A classified failure of one step against one resource. Its message never carries secret values. */
export class KilnStepError extends Error {
  readonly retryable: boolean;
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  readonly resourceId: string | undefined;
  /** True when Azure accepted the request but the operation itself ended Failed (a status-monitor error). */
  readonly operationFailed: boolean;

  constructor(
    message: string,
    options: { retryable: boolean; code?: string; statusCode?: number; resourceId?: string; operationFailed?: boolean; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = options.retryable ? TRANSIENT_ERROR : PERMANENT_ERROR;
    this.retryable = options.retryable;
    this.code = options.code;
    this.statusCode = options.statusCode;
    this.resourceId = options.resourceId;
    this.operationFailed = options.operationFailed ?? false;
  }
}

/** A failure Kiln itself decides is final (script exit code, bad input): never worth a retry. */
export function permanentError(message: string, details: { code?: string; resourceId?: string } = {}): KilnStepError {
  return new KilnStepError(message, { retryable: false, ...details });
}

/** LRO failures the platform tells us to try again: capacity, preemption, its own internal faults. */
const TRANSIENT_LRO_CODES = new Set([
  'AllocationFailed',
  'ZonalAllocationFailed',
  'OverconstrainedAllocationRequest',
  'OperationPreempted',
  'InternalExecutionError',
  'InternalServerError',
  'InternalOperationError',
  'RetryableError',
  'TooManyRequests',
  'ServiceUnavailable',
  'GatewayTimeout',
]);

/** 409 codes that are state races (another operation in flight), not rule violations. */
const TRANSIENT_CONFLICT_CODES = new Set(['Conflict', 'OperationPreempted', 'AnotherOperationInProgress']);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

const LRO_FAILED = /^The long-running operation has failed\. ([A-Za-z]+)\. ?/;

export interface Classification {
  retryable: boolean;
  code: string | undefined;
  statusCode: number | undefined;
  /** Azure's message, without the SDK's LRO prefix. */
  detail: string;
  /** The operation was accepted and then failed (retrying means starting it again), as opposed to a refused request. */
  operationFailed?: boolean;
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Decides whether an SDK error (RestError, failed LRO, network error) is worth retrying. */
export function classifyAzureError(err: unknown): Classification {
  const message = err instanceof Error ? err.message : String(err);
  const statusCode = typeof field(err, 'statusCode') === 'number' ? (field(err, 'statusCode') as number) : undefined;
  const rawCode = field(err, 'code');
  const code = typeof rawCode === 'string' ? rawCode : undefined;

  const lro = LRO_FAILED.exec(message);
  if (lro && statusCode === undefined) {
    const lroCode = lro[1];
    return {
      retryable: lroCode !== undefined && TRANSIENT_LRO_CODES.has(lroCode),
      code: lroCode,
      statusCode,
      detail: message.slice(lro[0].length) || message,
      operationFailed: true,
    };
  }
  if (message === 'Operation was canceled') return { retryable: true, code: 'OperationCanceled', statusCode, detail: message, operationFailed: true };
  if (message === 'The long-running operation has failed.') return { retryable: false, code: 'OperationFailed', statusCode, detail: message, operationFailed: true };
  if (code && NETWORK_CODES.has(code)) return { retryable: true, code, statusCode, detail: message };
  if (statusCode === undefined) return { retryable: false, code, statusCode, detail: message };
  if (statusCode === 408 || statusCode === 429) return { retryable: true, code, statusCode, detail: message };
  if (statusCode >= 500 && statusCode !== 501 && statusCode !== 505) return { retryable: true, code, statusCode, detail: message };
  if (statusCode === 409) {
    const inFlight = /another operation is in progress|preempted/i.test(message);
    return { retryable: inFlight || (code !== undefined && TRANSIENT_CONFLICT_CODES.has(code)), code, statusCode, detail: message };
  }
  // 400 validation, 403 policy/authorization, 404, quota: retrying cannot help.
  return { retryable: false, code, statusCode, detail: message };
}

/** A create refused because the subscription's quota is used up: worth waiting for, not retrying at once. */
export interface QuotaRefusal {
  /** The quota's name ('standardDSv3Family Cores', 'Total Regional Cores'), when Azure names it. */
  what?: string;
  location?: string;
  limit?: number;
  used?: number;
  required?: number;
}

const QUOTA_MESSAGE = /exceeding approved (.+?) quota/i;

/** Compute's quota refusal (409 OperationNotAllowed "…exceeding approved … quota…", or QuotaExceeded), with its figures. */
export function quotaRefusal(code: string | undefined, statusCode: number | undefined, message: string): QuotaRefusal | undefined {
  const named = QUOTA_MESSAGE.exec(message);
  const refused = code === 'QuotaExceeded' || (code === 'OperationNotAllowed' && (statusCode === undefined || statusCode === 409) && named !== null);
  if (!refused) return undefined;
  const figure = (label: string) => {
    const m = new RegExp(`${label}: (\\d+)`, 'i').exec(message);
    return m ? Number(m[1]) : undefined;
  };
  const found: QuotaRefusal = {
    what: named?.[1],
    location: /Location: ([A-Za-z0-9]+)/.exec(message)?.[1],
    limit: figure('Current Limit'),
    used: figure('Current Usage'),
    required: figure('Additional Required'),
  };
  // Only what the message said: an absent figure is left out, not carried as undefined.
  return Object.fromEntries(Object.entries(found).filter(([, v]) => v !== undefined)) as QuotaRefusal;
}

/** Wraps an SDK failure as a KilnStepError whose message says what was being done, to what, and why it failed. */
export function azureError(err: unknown, action: string, resourceId: string): KilnStepError {
  if (err instanceof KilnStepError) return err;
  const c = classifyAzureError(err);
  const why = [c.statusCode, c.code].filter((x) => x !== undefined).join(' ');
  return new KilnStepError(`${action} ${resourceId} failed${why ? ` (${why})` : ''}: ${c.detail}`, {
    retryable: c.retryable,
    code: c.code,
    statusCode: c.statusCode,
    resourceId,
    operationFailed: c.operationFailed,
    cause: err,
  });
}

/** True for "it is not there" answers: 404 of any flavour (resource, group, parent, secret). */
export function isNotFound(err: unknown): boolean {
  return field(err, 'statusCode') === 404;
}

/** Runs one Azure call, turning any failure into a classified KilnStepError. */
export async function callAzure<T>(action: string, resourceId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw azureError(err, action, resourceId);
  }
}

/** Runs one Azure call where 404 means "absent": returns undefined instead of failing. */
export async function getIfExists<T>(action: string, resourceId: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw azureError(err, action, resourceId);
  }
}
