/** The local Durable engine: dispatches orchestrator episodes, activities, entity operations and timers from the
 * SQLite store, within host.json's concurrency limits, and serves the DurableClient's HTTP routes. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClockTimer } from '../clock.ts';
import type { DurableEngine, DurableEngineOptions } from '../engine-contract.ts';
import { toJson } from './actions.ts';
import { runEntityStep } from './entities.ts';
import { HistoryCache, runEpisode } from './episode.ts';
import { failureFromError, historyEvents, type HistoryEvent } from './history.ts';
import { finishInstance } from './lifecycle.ts';
import { handleDurableHttp, rpcPrefix, webhookPrefix } from './rpc.ts';
import { managementUrls } from './status.ts';
import { DurableStore, type ActivityRow } from './store.ts';

export interface LocalDurableEngineOptions extends DurableEngineOptions {
  /** Instances per page of a status query (the client follows continuation tokens); default 100. */
  statusPageSize?: number;
}

/** How long stop() waits for in-flight work before closing the store. */
const STOP_GRACE_MS = 2_000;

/**
 * host.json's limits are per instance, and Azure's scale controller adds instances to a task hub whose work backs up
 * (a 50-bake wave would run on several). The local host is one process, so it takes one more instance's worth of
 * slots per instance's worth of work waiting, up to this many instances.
 */
export const LOCAL_SCALE_OUT = 8;

/** Slots for `backlog` units of work (running and waiting) at `perInstance` each, as instances are added for them. */
export function scaledSlots(perInstance: number, backlog: number): number {
  return perInstance * Math.min(LOCAL_SCALE_OUT, Math.max(1, Math.ceil(backlog / perInstance)));
}

export function createDurableEngine(options: LocalDurableEngineOptions): DurableEngine {
  return new LocalDurableEngine(options);
}

class LocalDurableEngine implements DurableEngine {
  readonly #options: LocalDurableEngineOptions;
  readonly #store: DurableStore;
  readonly #orchestrations = new Set<string>();
  readonly #activities = new Set<number>();
  readonly #entities = new Set<string>();
  readonly #histories = new HistoryCache();
  #pumpQueued = false;
  #stopped = true;
  #timer: { at: number; handle: ClockTimer } | undefined;

  constructor(options: LocalDurableEngineOptions) {
    this.#options = options;
    this.#store = new DurableStore(options.dbPath);
  }

  #now = (): number => this.#options.clock.now();

  clientInput(baseUrl: string): Record<string, unknown> {
    const origin = baseUrl.replace(/\/+$/, '');
    const base = `${origin}${webhookPrefix.slice(0, -1)}`;
    const { systemKey, rpcToken } = this.#options.access;
    const code = `code=${encodeURIComponent(systemKey)}`;
    const creation = `${base}/orchestrators/{functionName}[/{instanceId}]?${code}`;
    return {
      taskHubName: this.#options.hubName,
      creationUrls: {
        createNewInstancePostUri: creation,
        createAndWaitOnNewInstancePostUri: `${creation}&timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}`,
      },
      managementUrls: managementUrls(base, this.#options.hubName, 'INSTANCEID', systemKey),
      baseUrl: base,
      requiredQueryStringParameters: code,
      rpcBaseUrl: `${origin}${rpcPrefix}${rpcToken}/`,
    };
  }

  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    return handleDurableHttp(
      {
        store: this.#store,
        hubName: this.#options.hubName,
        access: this.#options.access,
        now: this.#now,
        find: (name) => this.#options.invoker.find(name),
        kick: () => this.#kick(),
        pageSize: this.#options.statusPageSize,
        replaceRunning: this.#options.overridableExistingInstanceStates === 'AnyState',
      },
      req,
      res,
    );
  }

  async start(): Promise<void> {
    this.#stopped = false;
    // Timers that came due while the host was down fire now; work that was in flight is simply still queued.
    this.#fireDueTimers();
    this.#kick();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timer?.handle.cancel();
    this.#timer = undefined;
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.#busy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.#store.close();
  }

  isIdle(): boolean {
    if (this.#stopped) return true;
    if (this.#busy() || this.#pumpQueued) return false;
    // A due timer not yet fired is work too (its clock callback may be about to run).
    const nextTimer = this.#store.nextTimerAt();
    if (nextTimer !== undefined && nextTimer <= this.#now()) return false;
    return this.#store.runnableInstances(1).length === 0 && this.#store.queuedActivities(1).length === 0 && this.#store.entitiesWithMessages().length === 0;
  }

  #busy(): boolean {
    return this.#orchestrations.size + this.#activities.size + this.#entities.size > 0;
  }

  #kick(): void {
    if (this.#stopped || this.#pumpQueued) return;
    this.#pumpQueued = true;
    setImmediate(() => {
      this.#pumpQueued = false;
      if (!this.#stopped) this.#pump();
    });
  }

  #pump(): void {
    const { maxConcurrentOrchestratorFunctions: maxOrchestrations, maxConcurrentActivityFunctions: maxActivities } = this.#options;
    // Running work keeps its row (inbox, activity) until it commits, so each list is the backlog: running and waiting.
    // At the scale-out ceiling no slot can be free: the backlog queries (run after every step) are skipped.
    const runnable = this.#orchestrations.size < maxOrchestrations * LOCAL_SCALE_OUT ? this.#store.runnableInstances(maxOrchestrations * LOCAL_SCALE_OUT) : [];
    let free = scaledSlots(maxOrchestrations, runnable.length) - this.#orchestrations.size;
    for (const id of runnable) {
      if (free <= 0) break;
      if (this.#orchestrations.has(id)) continue;
      free--;
      this.#track(this.#orchestrations, id, () => this.#runOrchestration(id));
    }
    const queued = this.#activities.size < maxActivities * LOCAL_SCALE_OUT ? this.#store.queuedActivities(maxActivities * LOCAL_SCALE_OUT) : [];
    free = scaledSlots(maxActivities, queued.length) - this.#activities.size;
    for (const row of queued) {
      if (free <= 0) break;
      if (this.#activities.has(row.id)) continue;
      free--;
      this.#track(this.#activities, row.id, () => this.#runActivity(row));
    }
    const entities = this.#store.entitiesWithMessages();
    const entityLimit = scaledSlots(maxOrchestrations, entities.length);
    for (const id of entities) {
      if (this.#entities.size >= entityLimit) break;
      if (this.#entities.has(id)) continue;
      this.#track(this.#entities, id, () => runEntityStep(this.#store, this.#options.invoker, this.#now, id));
    }
  }

  /**
   * Runs one unit of work, keeping its key in `running` meanwhile; afterwards looks for more work, unless the unit
   * reported that it could do nothing (an entity locked by another orchestration): the change that unblocks it
   * kicks the dispatcher itself, so a blocked entity is not polled in a loop.
   */
  #track<K>(running: Set<K>, key: K, work: () => Promise<unknown>): void {
    running.add(key);
    work()
      .catch((error: unknown) => {
        // Work cut short by stop() fails on the closed store; it is still queued and runs again after a restart.
        if (!this.#stopped) this.#options.log(`durable engine: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      })
      .then((progressed) => {
        running.delete(key);
        if (this.#stopped || progressed === false) return;
        this.#armTimer();
        this.#kick();
      });
  }

  async #runOrchestration(instanceId: string): Promise<void> {
    try {
      await runEpisode({ store: this.#store, invoker: this.#options.invoker, now: this.#now, histories: this.#histories }, instanceId);
    } catch (error) {
      if (this.#stopped) return;
      // An engine fault must not leave the instance spinning: fail it with the reason.
      this.#store.transaction(() => {
        const row = this.#store.getInstance(instanceId);
        if (row && (row.status === 'Running' || row.status === 'Pending')) {
          const failure = failureFromError(`Orchestration '${row.name}'`, error);
          finishInstance(this.#store, this.#now(), row, { status: 'Failed', message: failure.reason, details: failure.details });
        }
      });
      throw error;
    }
  }

  async #runActivity(row: ActivityRow): Promise<void> {
    let completion: HistoryEvent;
    try {
      const result = await this.#options.invoker.invoke(row.name, JSON.parse(row.input) as unknown, { invocationId: randomUUID() });
      completion = historyEvents.taskCompleted(this.#now(), row.task_id, toJson(result));
    } catch (error) {
      completion = historyEvents.taskFailed(this.#now(), row.task_id, failureFromError(`Activity function '${row.name}'`, error));
    }
    if (this.#stopped) return;
    // Removing the work item and queueing its result is one transaction: a completed activity never runs again.
    this.#store.transaction(() => {
      if (this.#store.takeActivity(row.id)) this.#store.deliver(row.instance_id, row.execution_id, completion);
    });
  }

  #fireDueTimers(): void {
    const now = this.#now();
    this.#store.transaction(() => {
      for (const timer of this.#store.dueTimers(now)) {
        const event = JSON.parse(timer.event) as HistoryEvent;
        this.#store.deliver(timer.instance_id, timer.execution_id, { ...event, Timestamp: new Date(now).toISOString() });
        this.#store.deleteTimer(timer.id);
      }
    });
    this.#armTimer();
  }

  /** Keeps one clock timer armed for the earliest durable timer. */
  #armTimer(): void {
    if (this.#stopped) return;
    const next = this.#store.nextTimerAt();
    if (this.#timer && this.#timer.at === next) return;
    this.#timer?.handle.cancel();
    this.#timer = undefined;
    if (next === undefined) return;
    const handle = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#fireDueTimers();
      this.#kick();
    }, next - this.#now());
    this.#timer = { at: next, handle };
  }
}
