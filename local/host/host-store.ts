/** The triggers' own state in SQLite under the host's home: blob receipts and timer schedule status. */
import { DatabaseSync } from 'node:sqlite';

export type ReceiptStatus = 'succeeded' | 'failed' | 'poisoned';

export interface BlobReceipt {
  status: ReceiptStatus;
  failures: number;
  lastError: string | null;
}

export interface TimerStatus {
  /** ISO times, as the timer trigger's scheduleStatus reports them. */
  last: string;
  next: string;
  lastUpdated: string;
}

export class HostStore {
  readonly #db: DatabaseSync;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS blob_receipts (
        function_name TEXT NOT NULL,
        blob_path TEXT NOT NULL,
        etag TEXT NOT NULL,
        status TEXT NOT NULL,
        failures INTEGER NOT NULL,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (function_name, blob_path, etag)
      );
      CREATE TABLE IF NOT EXISTS timer_status (
        function_name TEXT PRIMARY KEY,
        last TEXT NOT NULL,
        next TEXT NOT NULL,
        last_updated TEXT NOT NULL
      );
    `);
  }

  receipt(functionName: string, blobPath: string, etag: string): BlobReceipt | undefined {
    const row = this.#db
      .prepare('SELECT status, failures, last_error FROM blob_receipts WHERE function_name = ? AND blob_path = ? AND etag = ?')
      .get(functionName.toLowerCase(), blobPath, etag) as { status: ReceiptStatus; failures: number; last_error: string | null } | undefined;
    return row && { status: row.status, failures: row.failures, lastError: row.last_error };
  }

  putReceipt(functionName: string, blobPath: string, etag: string, receipt: BlobReceipt, at: Date): void {
    this.#db
      .prepare(
        `INSERT INTO blob_receipts (function_name, blob_path, etag, status, failures, last_error, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (function_name, blob_path, etag) DO UPDATE SET
           status = excluded.status, failures = excluded.failures, last_error = excluded.last_error,
           updated_at = excluded.updated_at`,
      )
      .run(functionName.toLowerCase(), blobPath, etag, receipt.status, receipt.failures, receipt.lastError, at.toISOString());
  }

  timerStatus(functionName: string): TimerStatus | undefined {
    const row = this.#db
      .prepare('SELECT last, next, last_updated FROM timer_status WHERE function_name = ?')
      .get(functionName.toLowerCase()) as { last: string; next: string; last_updated: string } | undefined;
    return row && { last: row.last, next: row.next, lastUpdated: row.last_updated };
  }

  putTimerStatus(functionName: string, status: TimerStatus): void {
    this.#db
      .prepare(
        `INSERT INTO timer_status (function_name, last, next, last_updated) VALUES (?, ?, ?, ?)
         ON CONFLICT (function_name) DO UPDATE SET last = excluded.last, next = excluded.next,
           last_updated = excluded.last_updated`,
      )
      .run(functionName.toLowerCase(), status.last, status.next, status.lastUpdated);
  }

  close(): void {
    this.#db.close();
  }
}
