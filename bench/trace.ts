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

const POLLER_NOISE = new Set(['TimerCreated', 'TimerFired', 'TaskScheduled pollOperation', 'TaskScheduled watchOperation']);

/**
 * The events in [from, to], each as `+ms instance event`, relative to `from`. A poller's looks are counted, not
 * listed: its timers and scheduled looks drop out, and of its finished looks only the last (the one that saw the end).
 */
export function eventsBetween(trace: TraceEvent[], from: number, to: number): string[] {
  const inside = trace.filter((e) => e.at >= from && e.at <= to);
  const lastLook = new Map(inside.filter((e) => e.what === 'TaskCompleted pollOperation').map((e) => [e.instance, e]));
  const looks = inside.filter((e) => e.what === 'TaskScheduled pollOperation').length;
  const shown = inside.filter((e) => !POLLER_NOISE.has(e.what) && (e.what !== 'TaskCompleted pollOperation' || lastLook.get(e.instance) === e));
  return [...shown.map((e) => `+${e.at - from} ${e.instance} ${e.what}`), ...(looks > 0 ? [`(${looks} more looks by pollers in between)`] : [])];
}
