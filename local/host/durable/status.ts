/** Instance status JSON as the DurableClient expects it, and the management URLs that point at it. */
import { eventTypeNames, EventType, type HistoryEvent } from './history.ts';
import type { InstanceRow } from './store.ts';

export interface StatusOptions {
  showInput: boolean;
  showHistory: boolean;
  showHistoryOutput: boolean;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const hiddenEvents = new Set<number>([EventType.OrchestratorStarted, EventType.OrchestratorCompleted]);

/** A readable history entry: event names instead of numbers; inputs and results only with showHistoryOutput. */
function historyEntry(event: HistoryEvent, withOutput: boolean): Record<string, unknown> {
  const entry: Record<string, unknown> = { EventType: eventTypeNames[event.EventType] ?? event.EventType, Timestamp: event.Timestamp };
  if (event.EventId >= 0) entry.EventId = event.EventId;
  for (const key of ['Name', 'InstanceId', 'TaskScheduledId', 'TimerId', 'FireAt', 'Reason'] as const) {
    if (event[key] !== undefined) entry[key] = event[key];
  }
  if (withOutput) {
    if (event.Input !== undefined) entry.Input = parseJson(event.Input);
    if (event.Result !== undefined) entry.Result = parseJson(event.Result);
    if (event.Details !== undefined) entry.Details = event.Details;
  }
  return entry;
}

export function statusJson(row: InstanceRow, options: StatusOptions, history?: HistoryEvent[]): Record<string, unknown> {
  const status: Record<string, unknown> = {
    name: row.name,
    instanceId: row.instance_id,
    runtimeStatus: row.status,
    input: options.showInput ? parseJson(row.input) : null,
    customStatus: parseJson(row.custom_status),
    output: parseJson(row.output),
    createdTime: new Date(row.created_at).toISOString(),
    lastUpdatedTime: new Date(row.updated_at).toISOString(),
  };
  if (options.showHistory && history) {
    status.history = history.filter((e) => !hiddenEvents.has(e.EventType)).map((e) => historyEntry(e, options.showHistoryOutput));
  }
  return status;
}

/** The management payload (createCheckStatusResponse / startNew's answer) for one instance, with the key that opens it. */
export function managementUrls(base: string, hubName: string, instanceId: string, systemKey: string): Record<string, string> {
  const id = encodeURIComponent(instanceId);
  const query = `taskHub=${encodeURIComponent(hubName)}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  return {
    id: instanceId,
    statusQueryGetUri: `${base}/instances/${id}?${query}`,
    sendEventPostUri: `${base}/instances/${id}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${base}/instances/${id}/terminate?reason={text}&${query}`,
    rewindPostUri: `${base}/instances/${id}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${base}/instances/${id}?${query}`,
    suspendPostUri: `${base}/instances/${id}/suspend?reason={text}&${query}`,
    resumePostUri: `${base}/instances/${id}/resume?reason={text}&${query}`,
  };
}
