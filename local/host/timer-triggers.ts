/**
 * Runs timer triggers on the host's clock from 6-field NCRONTAB (or TimeSpan) schedules, with runOnStartup and
 * isPastDue; the schedule status is kept in the host store so a restarted host knows what it missed.
 */
import { CronExpressionParser } from 'cron-parser';
import type { Clock, ClockTimer } from './clock.ts';
import type { RegisteredFunction } from './functions-core.ts';
import { parseTimeSpan, resolveSettingReferences } from './host-json.ts';
import type { HostStore, TimerStatus } from './host-store.ts';
import type { HostInvoker } from './invoker.ts';

/** A timer that fires this much later than its occurrence (a host that was down, a skipped clock) is past due. */
const PAST_DUE_TOLERANCE_MS = 1_000;

export interface TimerTriggerOptions {
  functions: Iterable<RegisteredFunction>;
  settings: Record<string, string | undefined>;
  store: HostStore;
  invoker: HostInvoker;
  clock: Clock;
  log: (line: string) => void;
}

/** The input a timer-triggered handler receives (@azure/functions `Timer`). */
export interface TimerInput {
  isPastDue: boolean;
  schedule: { adjustForDST: boolean };
  scheduleStatus: TimerStatus;
}

export interface Schedule {
  /** The first occurrence strictly after `afterMs`. */
  nextAfter(afterMs: number): number;
}

/** Parses a Functions timer schedule: NCRONTAB with seconds (`0 *\/5 * * * *`, UTC) or a TimeSpan (`00:05:00`). */
export function parseSchedule(text: string, field: string): Schedule {
  const trimmed = text.trim();
  if (/^(?:\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}$/.test(trimmed)) {
    const interval = parseTimeSpan(trimmed, field);
    if (interval <= 0) throw new Error(`${field}: expected a TimeSpan above zero, found '${text}'`);
    return { nextAfter: (afterMs) => afterMs + interval };
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `${field}: expected a 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}) ` +
        `or a TimeSpan, found ${fields.length} fields in '${text}'`,
    );
  }
  try {
    CronExpressionParser.parse(trimmed, { tz: 'UTC' });
  } catch (error) {
    throw new Error(`${field}: cannot parse '${text}' as NCRONTAB (${(error as Error).message})`, { cause: error });
  }
  return {
    nextAfter: (afterMs) => CronExpressionParser.parse(trimmed, { tz: 'UTC', currentDate: new Date(afterMs) }).next().getTime(),
  };
}

interface ScheduledFunction {
  fn: RegisteredFunction;
  schedule: Schedule;
  runOnStartup: boolean;
  timer: ClockTimer | undefined;
  running: Promise<void> | undefined;
}

export interface TimerTriggers {
  stop(): Promise<void>;
}

export function startTimerTriggers(options: TimerTriggerOptions): TimerTriggers {
  const { clock, store } = options;
  let stopped = false;
  const scheduled: ScheduledFunction[] = [...options.functions]
    .filter((fn) => fn.trigger.type === 'timerTrigger')
    .map((fn) => {
      const field = `function '${fn.metadata.name}' timer schedule`;
      const raw = typeof fn.trigger.schedule === 'string' ? fn.trigger.schedule : '';
      return {
        fn,
        schedule: parseSchedule(resolveSettingReferences(raw, options.settings, field), field),
        runOnStartup: fn.trigger.runOnStartup === true,
        timer: undefined,
        running: undefined,
      };
    });

  const iso = (ms: number): string => new Date(ms).toISOString();

  /** Runs the function for the occurrence `dueAt` (undefined: a runOnStartup run); resolves to the next occurrence. */
  const run = async (s: ScheduledFunction, dueAt: number | undefined, pastDue: boolean): Promise<number> => {
    const name = s.fn.metadata.name;
    const firedAt = clock.now();
    const before = store.timerStatus(name) ?? { last: iso(firedAt), next: iso(dueAt ?? firedAt), lastUpdated: iso(firedAt) };
    const input: TimerInput = {
      isPastDue: pastDue || (dueAt !== undefined && firedAt - dueAt > PAST_DUE_TOLERANCE_MS),
      schedule: { adjustForDST: true },
      scheduleStatus: before,
    };
    try {
      await options.invoker.run(s.fn, input);
    } catch (error) {
      // Timer invocations are not retried on Azure either; the next occurrence runs as scheduled.
      options.log(`[${name}] timer run failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Recorded after the run, so a host killed mid-run finds the occurrence still due and runs it again. The next
    // occurrence counts from when this one fired: missed occurrences are skipped, a run longer than the interval is not.
    const next = s.schedule.nextAfter(firedAt);
    try {
      store.putTimerStatus(name, {
        last: dueAt === undefined ? before.last : iso(dueAt),
        next: iso(next),
        lastUpdated: iso(clock.now()),
      });
    } catch (error) {
      // The occurrence then stays due and runs again at the next start: at least once, never lost.
      options.log(`[${name}] could not record the timer status: ${error instanceof Error ? error.message : String(error)}`);
    }
    return next;
  };

  /** Runs an occurrence and arms the one after it, keeping at most one run of a timer at a time (as Functions). */
  const runThenArm = (s: ScheduledFunction, dueAt: number | undefined, pastDue: boolean): void => {
    s.running = run(s, dueAt, pastDue).then((next) => {
      s.running = undefined;
      arm(s, next);
    });
  };

  const arm = (s: ScheduledFunction, next: number): void => {
    if (stopped) return;
    s.timer = clock.setTimeout(() => {
      s.timer = undefined;
      runThenArm(s, next, false);
    }, next - clock.now());
  };

  for (const s of scheduled) {
    const name = s.fn.metadata.name;
    const now = clock.now();
    const status = store.timerStatus(name);
    const saved = status ?? { last: iso(now), next: iso(s.schedule.nextAfter(now)), lastUpdated: iso(now) };
    if (!status) store.putTimerStatus(name, saved);
    const missed = Date.parse(saved.next) < now - PAST_DUE_TOLERANCE_MS;
    if (missed || s.runOnStartup) {
      // As the Functions host: one catch-up run for a missed occurrence (isPastDue), or the runOnStartup run.
      runThenArm(s, missed ? Date.parse(saved.next) : undefined, missed);
    } else {
      arm(s, Date.parse(saved.next));
    }
  }

  return {
    async stop() {
      stopped = true;
      for (const s of scheduled) s.timer?.cancel();
      await Promise.all(scheduled.map((s) => s.running));
    },
  };
}
