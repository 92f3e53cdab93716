/** The durable engine's state in SQLite (node:sqlite, WAL): instances, histories, inboxes, work queues, timers, entities. */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HistoryEvent } from './history.ts';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'Suspended';

export const terminalStatuses: readonly RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];

export function isTerminal(status: string): boolean {
  return (terminalStatuses as readonly string[]).includes(status);
}

export interface InstanceRow {
  instance_id: string;
  name: string;
  version: string;
  execution_id: string;
  status: RuntimeStatus;
  /** JSON text of the current execution's input. */
  input: string;
  /** JSON text of the output (Completed), the error message (Failed) or the reason (Terminated). */
  output: string | null;
  custom_status: string | null;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
  created_at: number;
  updated_at: number;
  /** The SDK's sequence counter mirrored: the next task id. */
  next_seq: number;
  /** JSON: [taskId, signature][] for every leaf action already executed in this execution. */
  actions: string;
  /** JSON: { [firstAttemptId]: RetryState }. */
  retries: string;
}

export interface InboxRow {
  id: number;
  instance_id: string;
  execution_id: string | null;
  event: string;
}

export interface ActivityRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_id: number;
  name: string;
  input: string;
  kind: string;
}

export interface TimerRow {
  id: number;
  instance_id: string;
  execution_id: string;
  fire_at: number;
  event: string;
}

export interface EntityRow {
  entity_id: string;
  state: string | null;
  lock_owner: string | null;
}

export interface EntityMessageRow {
  id: number;
  entity_id: string;
  message: string;
}

const schema = `
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  custom_status TEXT,
  parent_instance_id TEXT,
  parent_execution_id TEXT,
  parent_task_id INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 0,
  actions TEXT NOT NULL DEFAULT '[]',
  retries TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS instances_by_created ON instances (created_at, instance_id);
CREATE INDEX IF NOT EXISTS instances_by_status ON instances (status, updated_at);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT,
  event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox (instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  input TEXT NOT NULL,
  kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_by_instance ON activities (instance_id);
CREATE TABLE IF NOT EXISTS timers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  fire_at INTEGER NOT NULL,
  event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_by_fire_at ON timers (fire_at);
CREATE INDEX IF NOT EXISTS timers_by_instance ON timers (instance_id);
CREATE TABLE IF NOT EXISTS entities (
  entity_id TEXT PRIMARY KEY,
  state TEXT,
  lock_owner TEXT
);
CREATE TABLE IF NOT EXISTS entity_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  entity_id TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_queue_by_entity ON entity_queue (entity_id, id);
`;

/** How long a statement waits for the store's write lock. */
const BUSY_TIMEOUT_MS = 5_000;

/** Filters of a status query (the DurableClient's getStatusBy / getStatusAll / purgeInstanceHistoryBy). */
export interface InstanceQuery {
  runtimeStatus?: string[];
  createdFrom?: number;
  createdTo?: number;
  /** Exclusive lower bound `[created_at, instance_id]` from a continuation token. */
  after?: [number, string];
  limit?: number;
}

/** Thin typed access to the tables; every multi-statement change runs inside `transaction`. */
export class DurableStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(dbPath: string) {
    if (dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
    this.#db = new DatabaseSync(dbPath, { timeout: BUSY_TIMEOUT_MS });
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.#db.exec(schema);
  }

  close(): void {
    this.#db.close();
  }

  /** Runs `fn` as one IMMEDIATE transaction: all of its writes land, or none. */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all<T>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.#stmt(sql).all(...params) as T[];
  }

  #get<T>(sql: string, ...params: SQLInputValue[]): T | undefined {
    return this.#stmt(sql).get(...params) as T | undefined;
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#stmt(sql).run(...params).changes);
  }

  // Instances ---------------------------------------------------------------------------------------------------

  getInstance(instanceId: string): InstanceRow | undefined {
    return this.#get<InstanceRow>('SELECT * FROM instances WHERE instance_id = ?', instanceId);
  }

  insertInstance(row: InstanceRow): void {
    this.#run(
      `INSERT OR REPLACE INTO instances (instance_id, name, version, execution_id, status, input, output, custom_status,
         parent_instance_id, parent_execution_id, parent_task_id, created_at, updated_at, next_seq, actions, retries)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.instance_id, row.name, row.version, row.execution_id, row.status, row.input, row.output, row.custom_status,
      row.parent_instance_id, row.parent_execution_id, row.parent_task_id, row.created_at, row.updated_at,
      row.next_seq, row.actions, row.retries,
    );
  }

  updateInstance(instanceId: string, fields: Partial<Omit<InstanceRow, 'instance_id'>>): void {
    const keys = Object.keys(fields) as (keyof typeof fields)[];
    if (keys.length === 0) return;
    const sql = `UPDATE instances SET ${keys.map((k) => `${k} = ?`).join(', ')} WHERE instance_id = ?`;
    this.#run(sql, ...keys.map((k) => fields[k] as SQLInputValue), instanceId);
  }

  queryInstances(query: InstanceQuery): InstanceRow[] {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (query.runtimeStatus && query.runtimeStatus.length > 0) {
      where.push(`status IN (${query.runtimeStatus.map(() => '?').join(', ')})`);
      params.push(...query.runtimeStatus);
    }
    if (query.createdFrom !== undefined) {
      where.push('created_at >= ?');
      params.push(query.createdFrom);
    }
    if (query.createdTo !== undefined) {
      where.push('created_at <= ?');
      params.push(query.createdTo);
    }
    if (query.after) {
      where.push('(created_at > ? OR (created_at = ? AND instance_id > ?))');
      params.push(query.after[0], query.after[0], query.after[1]);
    }
    const sql =
      `SELECT * FROM instances ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY created_at, instance_id ${query.limit === undefined ? '' : `LIMIT ${Math.floor(query.limit)}`}`;
    return this.#db.prepare(sql).all(...params) as unknown as InstanceRow[];
  }

  /** Instances with work waiting in their inbox that may run now (not suspended, not finished). */
  runnableInstances(limit: number): string[] {
    return this.#all<{ instance_id: string }>(
      `SELECT i.instance_id FROM instances i
       WHERE i.status IN ('Pending', 'Running') AND EXISTS (SELECT 1 FROM inbox b WHERE b.instance_id = i.instance_id)
       ORDER BY i.updated_at LIMIT ?`,
      limit,
    ).map((r) => r.instance_id);
  }

  deleteInstance(instanceId: string): void {
    this.#run('DELETE FROM instances WHERE instance_id = ?', instanceId);
    this.#run('DELETE FROM history WHERE instance_id = ?', instanceId);
    this.clearWork(instanceId);
  }

  /** Drops everything still queued for an instance: inbox, timers, activities not yet completed. */
  clearWork(instanceId: string): void {
    this.#run('DELETE FROM inbox WHERE instance_id = ?', instanceId);
    this.#run('DELETE FROM timers WHERE instance_id = ?', instanceId);
    this.#run('DELETE FROM activities WHERE instance_id = ?', instanceId);
  }

  /** Drops the timers, queued activities and undelivered completions of one (finished) execution. */
  clearWorkOfExecution(instanceId: string, executionId: string): void {
    this.#run('DELETE FROM inbox WHERE instance_id = ? AND execution_id = ?', instanceId, executionId);
    this.#run('DELETE FROM timers WHERE instance_id = ? AND execution_id = ?', instanceId, executionId);
    this.#run('DELETE FROM activities WHERE instance_id = ? AND execution_id = ?', instanceId, executionId);
  }

  // History -----------------------------------------------------------------------------------------------------

  loadHistory(instanceId: string): HistoryEvent[] {
    return this.#all<{ event: string }>('SELECT event FROM history WHERE instance_id = ? ORDER BY seq', instanceId).map(
      (r) => JSON.parse(r.event) as HistoryEvent,
    );
  }

  historyLength(instanceId: string): number {
    return (this.#get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM history WHERE instance_id = ?', instanceId)?.seq ?? -1) + 1;
  }

  appendHistory(instanceId: string, events: readonly HistoryEvent[]): void {
    let seq = this.historyLength(instanceId);
    for (const e of events) this.#run('INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)', instanceId, seq++, JSON.stringify(e));
  }

  clearHistory(instanceId: string): void {
    this.#run('DELETE FROM history WHERE instance_id = ?', instanceId);
  }

  // Inbox -------------------------------------------------------------------------------------------------------

  /** Queues an event for an instance; `executionId` null means "whatever execution is current" (raised events). */
  deliver(instanceId: string, executionId: string | null, event: HistoryEvent): void {
    this.#run('INSERT INTO inbox (instance_id, execution_id, event) VALUES (?, ?, ?)', instanceId, executionId, JSON.stringify(event));
  }

  inbox(instanceId: string, limit: number): InboxRow[] {
    return this.#all<InboxRow>('SELECT * FROM inbox WHERE instance_id = ? ORDER BY id LIMIT ?', instanceId, limit);
  }

  deleteInbox(ids: number[]): void {
    for (const id of ids) this.#run('DELETE FROM inbox WHERE id = ?', id);
  }

  // Activities --------------------------------------------------------------------------------------------------

  enqueueActivity(row: Omit<ActivityRow, 'id'>): void {
    this.#run(
      'INSERT INTO activities (instance_id, execution_id, task_id, name, input, kind) VALUES (?, ?, ?, ?, ?, ?)',
      row.instance_id, row.execution_id, row.task_id, row.name, row.input, row.kind,
    );
  }

  /** The oldest queued activities, for the dispatcher to pick from (it skips those it is already running). */
  queuedActivities(limit: number): ActivityRow[] {
    return this.#all<ActivityRow>('SELECT * FROM activities ORDER BY id LIMIT ?', limit);
  }

  /** Removes a finished activity; false when it is gone already (its instance finished or was purged meanwhile). */
  takeActivity(id: number): boolean {
    return this.#run('DELETE FROM activities WHERE id = ?', id) === 1;
  }

  // Timers ------------------------------------------------------------------------------------------------------

  addTimer(instanceId: string, executionId: string, fireAt: number, event: HistoryEvent): void {
    this.#run('INSERT INTO timers (instance_id, execution_id, fire_at, event) VALUES (?, ?, ?, ?)', instanceId, executionId, fireAt, JSON.stringify(event));
  }

  dueTimers(now: number): TimerRow[] {
    return this.#all<TimerRow>('SELECT * FROM timers WHERE fire_at <= ? ORDER BY fire_at, id', now);
  }

  deleteTimer(id: number): void {
    this.#run('DELETE FROM timers WHERE id = ?', id);
  }

  nextTimerAt(): number | undefined {
    return this.#get<{ at: number | null }>('SELECT MIN(fire_at) AS at FROM timers')?.at ?? undefined;
  }

  // Entities ----------------------------------------------------------------------------------------------------

  getEntity(entityId: string): EntityRow | undefined {
    return this.#get<EntityRow>('SELECT * FROM entities WHERE entity_id = ?', entityId);
  }

  putEntity(row: EntityRow): void {
    this.#run('INSERT OR REPLACE INTO entities (entity_id, state, lock_owner) VALUES (?, ?, ?)', row.entity_id, row.state, row.lock_owner);
  }

  releaseLocksOf(owner: string): string[] {
    const ids = this.#all<{ entity_id: string }>('SELECT entity_id FROM entities WHERE lock_owner = ?', owner).map((r) => r.entity_id);
    this.#run('UPDATE entities SET lock_owner = NULL WHERE lock_owner = ?', owner);
    return ids;
  }

  enqueueEntityMessage(entityId: string, message: unknown): void {
    this.#run('INSERT INTO entity_queue (entity_id, message) VALUES (?, ?)', entityId, JSON.stringify(message));
  }

  entitiesWithMessages(): string[] {
    return this.#all<{ entity_id: string }>('SELECT DISTINCT entity_id FROM entity_queue').map((r) => r.entity_id);
  }

  entityMessages(entityId: string): EntityMessageRow[] {
    return this.#all<EntityMessageRow>('SELECT * FROM entity_queue WHERE entity_id = ? ORDER BY id', entityId);
  }

  deleteEntityMessage(id: number): void {
    this.#run('DELETE FROM entity_queue WHERE id = ?', id);
  }
}
