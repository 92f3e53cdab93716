/** History events as the durable-functions SDK reads them (DTFx's PascalCase shape), and their constructors. */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const eventTypeNames: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

/** One history event; the fields besides the four common ones depend on EventType. */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  Reason?: string;
  Details?: string;
  Version?: string;
  InstanceId?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
  ParentInstance?: { InstanceId: string; TaskScheduledId: number } | null;
}

function event(type: number, timestamp: number, fields: Partial<HistoryEvent> = {}, eventId = -1): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: new Date(timestamp).toISOString(), ...fields };
}

/** The reason/details pair the SDK turns into `Error("<Reason> \n <Details>")`. */
export interface Failure {
  reason: string;
  details: string;
}

export const historyEvents = {
  orchestratorStarted: (at: number) => event(EventType.OrchestratorStarted, at),
  orchestratorCompleted: (at: number) => event(EventType.OrchestratorCompleted, at),
  executionStarted: (at: number, f: { name: string; version: string; input: string; instanceId: string; executionId: string }) =>
    event(EventType.ExecutionStarted, at, {
      Name: f.name,
      Version: f.version,
      Input: f.input,
      OrchestrationInstance: { InstanceId: f.instanceId, ExecutionId: f.executionId },
    }),
  executionCompleted: (at: number, result: string) => event(EventType.ExecutionCompleted, at, { Result: result }),
  executionFailed: (at: number, reason: string) => event(EventType.ExecutionFailed, at, { Reason: reason }),
  executionTerminated: (at: number, reason: string) => event(EventType.ExecutionTerminated, at, { Input: JSON.stringify(reason) }),
  executionSuspended: (at: number, reason: string) => event(EventType.ExecutionSuspended, at, { Reason: reason }),
  executionResumed: (at: number, reason: string) => event(EventType.ExecutionResumed, at, { Reason: reason }),
  continueAsNew: (at: number, input: string) => event(EventType.ContinueAsNew, at, { Result: input }),
  taskScheduled: (at: number, id: number, name: string, input: string) =>
    event(EventType.TaskScheduled, at, { Name: name, Version: '', Input: input }, id),
  taskCompleted: (at: number, id: number, result: string) => event(EventType.TaskCompleted, at, { TaskScheduledId: id, Result: result }),
  taskFailed: (at: number, id: number, failure: Failure) =>
    event(EventType.TaskFailed, at, { TaskScheduledId: id, Reason: failure.reason, Details: failure.details }),
  subOrchestrationCreated: (at: number, id: number, name: string, instanceId: string, input: string) =>
    event(EventType.SubOrchestrationInstanceCreated, at, { Name: name, InstanceId: instanceId, Input: input }, id),
  subOrchestrationCompleted: (at: number, id: number, result: string) =>
    event(EventType.SubOrchestrationInstanceCompleted, at, { TaskScheduledId: id, Result: result }),
  subOrchestrationFailed: (at: number, id: number, failure: Failure) =>
    event(EventType.SubOrchestrationInstanceFailed, at, { TaskScheduledId: id, Reason: failure.reason, Details: failure.details }),
  timerCreated: (at: number, id: number, fireAt: string) => event(EventType.TimerCreated, at, { FireAt: fireAt }, id),
  timerFired: (at: number, id: number, fireAt: string) => event(EventType.TimerFired, at, { TimerId: id, FireAt: fireAt }),
  eventSent: (at: number, id: number, name: string, target: string, input: string) =>
    event(EventType.EventSent, at, { Name: name, InstanceId: target, Input: input }, id),
  eventRaised: (at: number, name: string, input: string | undefined) =>
    event(EventType.EventRaised, at, input === undefined ? { Name: name } : { Name: name, Input: input }),
};

/** The id a completion event answers (TaskScheduledId or TimerId), if it is one. */
export function completedTaskId(e: HistoryEvent): number | undefined {
  switch (e.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return e.TaskScheduledId;
    case EventType.TimerFired:
      return e.TimerId;
    default:
      return undefined;
  }
}

export function isFailureEvent(e: HistoryEvent): boolean {
  return e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed;
}

/** Reason/details for an error thrown by a function, as Azure encodes them. */
export function failureFromError(what: string, error: unknown): Failure {
  const message = error instanceof Error ? error.message : String(error);
  const details = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : JSON.stringify(error) ?? String(error);
  return { reason: `${what} failed: ${message}`, details };
}
