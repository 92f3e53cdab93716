/** Fault injection for the emulator: validated rules saying which requests get a throttle, a 500, a failed LRO, … */
import { z } from 'zod';

export const FAULT_KINDS = ['throttle', 'error500', 'lroFailed', 'runCommandTimeout', 'unhealthy', 'scaleIn', 'scaleOut'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const HTTP_METHODS = ['GET', 'PUT', 'PATCH', 'POST', 'DELETE', 'HEAD'] as const;

const faultRuleSchema = z
  .object({
    match: z
      .object({
        /** The emulator's operation name, e.g. `virtualMachines.createOrUpdate` (compared case-insensitively). */
        operation: z.string().min(1).optional(),
        method: z
          .string()
          .transform((method) => method.toUpperCase())
          .pipe(z.enum(HTTP_METHODS))
          .optional(),
        /** A substring of the request path (case-insensitive, as ARM paths are). */
        pathContains: z.string().min(1).optional(),
      })
      .strict(),
    kind: z.enum(FAULT_KINDS),
    /** Azure error code: defaults per kind (TooManyRequests, InternalServerError, AllocationFailed). */
    code: z.string().min(1).optional(),
    message: z.string().min(1).optional(),
    retryAfterSeconds: z.number().int().nonnegative().optional(),
    /** How many times the rule fires before it is spent; absent means every time. */
    count: z.number().int().positive().optional(),
  })
  .strict();

export type FaultRule = z.output<typeof faultRuleSchema>;

/** A rule as listed: what it is, how often it has fired and how many firings are left. */
export interface ActiveFault extends FaultRule {
  fired: number;
  remaining?: number;
}

/** What the emulator knows about a request when it asks whether a fault applies. */
export interface FaultRequest {
  operation?: string;
  method: string;
  path: string;
}

/** A fault that fired, with everything needed to build the Azure-shaped response. */
export interface FiredFault {
  kind: FaultKind;
  code: string;
  message: string;
  /** Set for throttles: the Retry-After header value in seconds. */
  retryAfterSeconds?: number;
}

export class FaultRuleError extends Error {
  override name = 'FaultRuleError';
}

export interface FaultController {
  /** Replaces every rule; throws FaultRuleError (naming the field) on bad input and keeps the old rules. */
  set(rules: unknown): ActiveFault[];
  /** Adds one rule after the existing ones. */
  add(rule: unknown): ActiveFault[];
  list(): ActiveFault[];
  clear(): void;
  /**
   * The first live rule matching the request (restricted to `kinds` when given) fires: its count goes down and
   * the fault is returned. Undefined when none applies.
   */
  take(request: FaultRequest, kinds?: readonly FaultKind[]): FiredFault | undefined;
}

const DEFAULTS: Record<FaultKind, { code: string; message: string }> = {
  throttle: {
    code: 'TooManyRequests',
    message: 'The request is being throttled as the limit has been reached for operation type. (injected fault)',
  },
  error500: {
    code: 'InternalServerError',
    message: 'The server encountered an internal error. Please retry the request. (injected fault)',
  },
  lroFailed: {
    code: 'AllocationFailed',
    message:
      'Allocation failed. We do not have sufficient capacity for the requested VM size in this region. (injected fault)',
  },
  runCommandTimeout: {
    code: 'RunCommandTimedOut',
    message: 'The script did not finish within the allowed time. (injected fault)',
  },
  unhealthy: { code: 'Unhealthy', message: 'The application health probe reported Unhealthy. (injected fault)' },
  // Autoscale moving a scale set while a request about it runs: one instance removed or added (not an error).
  scaleIn: { code: 'Autoscale', message: 'Autoscale removed an instance. (injected fault)' },
  scaleOut: { code: 'Autoscale', message: 'Autoscale added an instance. (injected fault)' },
};

const DEFAULT_MESSAGES_BY_CODE: Record<string, string> = {
  OperationPreempted: 'Operation execution has been preempted by a more recent operation. (injected fault)',
};

function describeIssues(error: z.ZodError, prefix: (path: PropertyKey[]) => string): string {
  return error.issues
    .map((issue) => {
      const found = 'input' in issue ? `, found ${JSON.stringify(issue.input) ?? 'nothing'}` : '';
      return `${prefix(issue.path)}: ${issue.message}${found}`;
    })
    .join('; ');
}

function pathText(path: PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
}

function parseRules(input: unknown): FaultRule[] {
  if (!Array.isArray(input)) {
    throw new FaultRuleError(`faults: expected a JSON list of rules, found ${describeType(input)}`);
  }
  const parsed = z.array(faultRuleSchema).safeParse(input, { reportInput: true });
  if (!parsed.success) {
    throw new FaultRuleError(describeIssues(parsed.error, (path) => `faults${pathText(path)}`));
  }
  return parsed.data;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

function matches(rule: FaultRule, request: FaultRequest): boolean {
  const { operation, method, pathContains } = rule.match;
  if (operation !== undefined && operation.toLowerCase() !== request.operation?.toLowerCase()) return false;
  if (method !== undefined && method !== request.method.toUpperCase()) return false;
  if (pathContains !== undefined && !request.path.toLowerCase().includes(pathContains.toLowerCase())) return false;
  return true;
}

export function createFaultController(initial: unknown = []): FaultController {
  let active: ActiveFault[] = [];

  const toActive = (rules: FaultRule[]): ActiveFault[] =>
    rules.map((rule) => ({ ...rule, fired: 0, ...(rule.count === undefined ? {} : { remaining: rule.count }) }));
  const snapshot = (): ActiveFault[] => active.map((fault) => structuredClone(fault));

  const controller: FaultController = {
    set(rules) {
      active = toActive(parseRules(rules));
      return snapshot();
    },
    add(rule) {
      active = [...active, ...toActive(parseRules([rule]))];
      return snapshot();
    },
    list: snapshot,
    clear() {
      active = [];
    },
    take(request, kinds) {
      const fault = active.find(
        (candidate) =>
          (candidate.remaining === undefined || candidate.remaining > 0) &&
          (kinds === undefined || kinds.includes(candidate.kind)) &&
          matches(candidate, request),
      );
      if (!fault) return undefined;
      fault.fired += 1;
      if (fault.remaining !== undefined) fault.remaining -= 1;
      const code = fault.code ?? DEFAULTS[fault.kind].code;
      return {
        kind: fault.kind,
        code,
        message: fault.message ?? DEFAULT_MESSAGES_BY_CODE[code] ?? DEFAULTS[fault.kind].message,
        ...(fault.kind === 'throttle' ? { retryAfterSeconds: fault.retryAfterSeconds ?? 1 } : {}),
      };
    },
  };
  controller.set(initial);
  return controller;
}
