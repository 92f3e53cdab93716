/** The critical path of a run on the emulator's timeline: how long the emulated Azure work alone would have taken. */
import type { TimelineEntry } from './arm/lro.ts';

/** The part of an operation that ran inside the measured window, on the emulated timeline. */
interface Span {
  entry: TimelineEntry;
  start: number;
  due: number;
  settled: number;
}

export interface CriticalPath {
  /** The longest chain (ms): operations one after another, each begun after the one before it was seen to end. */
  chainMs: number;
  /** The chain's operations, first to last. */
  chain: TimelineEntry[];
  /** Time (ms) during which at least one emulated operation was due to be in progress. */
  unionMs: number;
}

/** Guest operations (`{vm}/guest`) are started by a script that a run command on the same VM runs. */
function spawnedBy(parent: TimelineEntry, child: TimelineEntry): boolean {
  if (!child.resourceId.toLowerCase().endsWith('/guest')) return false;
  const vm = child.resourceId.slice(0, -'/guest'.length).toLowerCase();
  const id = parent.resourceId.toLowerCase();
  return id === `${vm}/runcommand` || id.startsWith(`${vm}/runcommands/`);
}

function spansWithin(timeline: TimelineEntry[], from: number, to: number): Span[] {
  return timeline
    .filter((e) => e.dueAt !== undefined && e.settledAt !== undefined && e.startedAt >= from && e.startedAt < to)
    .map((entry) => ({ entry, start: entry.startedAt, due: Math.min(entry.dueAt!, to), settled: Math.min(entry.settledAt!, to) }))
    .sort((a, b) => a.start - b.start);
}

/** Milliseconds covered by at least one span. */
function unionMs(spans: Span[]): number {
  let covered = 0;
  let reach = -Infinity;
  for (const { start, due } of spans) {
    if (due <= reach) continue;
    covered += due - Math.max(start, reach);
    reach = due;
  }
  return covered;
}

/**
 * Operations started in [from, to), ended ones only. An operation can follow another that was seen to end
 * (settledAt) before it started — the caller may have waited for it — and a guest operation can also follow, from
 * its own start offset (at most the command's end), the run command whose script started it. The chain's length is the earliest the last
 * operation could have ended with every operation begun the moment its predecessor was due to end: never more than
 * the wall time, and what a caller with no overhead of its own would have taken.
 */
export function criticalPath(timeline: TimelineEntry[], from: number, to: number): CriticalPath {
  const spans = spansWithin(timeline, from, to);
  const finish: number[] = [];
  const previous: (number | undefined)[] = [];
  spans.forEach((span, j) => {
    let start = 0;
    let before: number | undefined;
    for (let i = 0; i < j; i++) {
      const other = spans[i]!;
      // A guest's work started by a run command follows it from its own offset, or from the command's end when it
      // began after that (an async Run Command's script starts as its PUT ends; the rest is the emulator's lag).
      const candidate = other.settled <= span.start
        ? finish[i]!
        : spawnedBy(other.entry, span.entry) && span.start >= other.start
          ? finish[i]! - (other.due - other.start) + Math.min(span.start - other.start, other.due - other.start)
          : undefined;
      if (candidate !== undefined && candidate > start) {
        start = candidate;
        before = i;
      }
    }
    finish.push(start + Math.max(0, span.due - span.start));
    previous.push(before);
  });
  if (finish.length === 0) return { chainMs: 0, chain: [], unionMs: 0 };
  const last = finish.indexOf(Math.max(...finish));
  const chain: TimelineEntry[] = [];
  for (let at: number | undefined = last; at !== undefined; at = previous[at]) chain.unshift(spans[at]!.entry);
  return { chainMs: finish[last]!, chain, unionMs: unionMs(spans) };
}
