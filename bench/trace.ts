/**
 * What Kiln did between two emulated operations of a bake (bench:bake): the durable histories of the bake and its
 * sub-orchestrations, read through the host's durable webhooks, as one time-ordered list of events per gap.
 */

interface HistoryEntry {
  EventType: string;
  Timestamp: string;
  Name?: string;
  TaskScheduledId?: number;
  EventId?: number;
}

export interface TraceEvent {
  at: number;
  instance: string;
  what: string;
}

/** Every history event of the run's instances (the bake and its children: `{runId}:…`), oldest first. */
export async function runTrace(functionsUrl: string, adminKey: string, runId: string): Promise<TraceEvent[]> {
  const base = `${functionsUrl}/runtime/webhooks/durabletask/instances`;
  const list = (await (await fetch(`${base}?code=${encodeURIComponent(adminKey)}&top=1000&showInput=false`)).json()) as { instanceId: string }[];
  const ids = list.map((i) => i.instanceId).filter((id) => id === runId || id.startsWith(`${runId}:`));
  const events: TraceEvent[] = [];
  for (const id of ids) {
    const status = (await (await fetch(`${base}/${encodeURIComponent(id)}?code=${encodeURIComponent(adminKey)}&showHistory=true&showInput=false`)).json()) as { history?: HistoryEntry[] };
    const history = status.history ?? [];
    // A completion names its activity only through the id of the TaskScheduled it answers.
    const scheduled = new Map(history.filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'SubOrchestrationInstanceCreated').map((e) => [e.EventId, e.Name]));
    const instance = id === runId ? 'bake' : id.slice(runId.length + 1);
    for (const e of history) {
      const name = e.Name ?? (e.TaskScheduledId !== undefined ? scheduled.get(e.TaskScheduledId) : undefined);
      events.push({ at: Date.parse(e.Timestamp), instance, what: `${e.EventType}${name ? ` ${name}` : ''}` });
    }
  }
  return events.sort((a, b) => a.at - b.at);
}

/** The events in [from, to], each as `+ms instance event`, relative to `from`. */
export function eventsBetween(trace: TraceEvent[], from: number, to: number): string[] {
  return trace.filter((e) => e.at >= from && e.at <= to).map((e) => `+${e.at - from} ${e.instance} ${e.what}`);
}
