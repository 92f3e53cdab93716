/** The SDK's orchestrator actions: their shapes, flattening, and decoding of their inputs. */

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** One action as the SDK returns it (fields present depend on actionType). */
export interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptions;
  instanceId?: string;
  version?: string;
  fireAt?: Date | string;
  isCanceled?: boolean;
  externalEventName?: string;
  operation?: string;
  lockRequestId?: string;
  lockSet?: { name: string; key: string }[];
  compoundActions?: Action[];
}

/** The state the orchestrator handler resolves to (or carries in an OrchestrationFailureError). */
export interface OrchestratorState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion: number;
}

/** The leaf actions in scheduling order: compound actions (Task.all/any) replaced by their children, depth first. */
export function flattenActions(actions: Action[][]): Action[] {
  const leaves: Action[] = [];
  const visit = (action: Action): void => {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      for (const child of action.compoundActions ?? []) visit(child);
    } else {
      leaves.push(action);
    }
  };
  for (const group of actions) for (const action of group) visit(action);
  return leaves;
}

const actionTypeNames: Record<number, string> = Object.fromEntries(
  Object.entries(ActionType).map(([name, value]) => [value, name]),
);

/** What must stay the same for an action across replays: its kind and its target. */
export function actionSignature(action: Action): string {
  const target = action.functionName ?? action.externalEventName ?? action.instanceId ?? '';
  const operation = action.operation === undefined ? '' : `.${action.operation}`;
  return `${actionTypeNames[action.actionType] ?? `action ${action.actionType}`} '${target}${operation}'`;
}

/** Activity and continueAsNew inputs: the SDK JSON-encodes string inputs once more. */
export function decodeEncodedInput(input: unknown): unknown {
  return typeof input === 'string' ? JSON.parse(input) : input;
}

/** JSON text for a value, with `undefined` stored as `null` (as the Durable extension does). */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null) ?? 'null';
}

export function fireAtIso(fireAt: Date | string | undefined): string {
  if (fireAt instanceof Date) return fireAt.toISOString();
  if (typeof fireAt === 'string' && !Number.isNaN(Date.parse(fireAt))) return new Date(fireAt).toISOString();
  throw new Error(`CreateTimer action: expected fireAt to be a date, found ${JSON.stringify(fireAt)}`);
}
