/** Persistence for the emulator's resources and operations behind one interface; handlers never touch files. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export type StoreKind = 'resource' | 'operation';

export interface ArmStore {
  get<T>(kind: StoreKind, key: string): T | undefined;
  put<T>(kind: StoreKind, key: string, value: T): void;
  delete(kind: StoreKind, key: string): void;
  /** Every value whose key starts with `keyPrefix` (all of the kind without one), in key order. */
  list<T>(kind: StoreKind, keyPrefix?: string): T[];
  close(): void;
}

/** Keys are ARM ids, which are case-insensitive. */
export const storeKey = (id: string): string => id.toLowerCase();

/** A SQLite file under `home` (WAL), so a restarted emulator still has its resources. */
export function openSqliteStore(home: string): ArmStore {
  mkdirSync(home, { recursive: true });
  const db = new DatabaseSync(join(home, 'arm-state.sqlite'));
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;');
  db.exec('CREATE TABLE IF NOT EXISTS entries (kind TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, key))');
  const getStmt = db.prepare('SELECT json FROM entries WHERE kind = ? AND key = ?');
  const putStmt = db.prepare('INSERT INTO entries (kind, key, json) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET json = excluded.json');
  const deleteStmt = db.prepare('DELETE FROM entries WHERE kind = ? AND key = ?');
  const listStmt = db.prepare('SELECT json FROM entries WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY key');
  let closed = false;
  // Work still under way when the emulator stopped gets this, not SQLite's "statement has been finalized".
  const open = () => {
    if (closed) throw new Error(`the emulator's state store in ${home} is closed (the emulator has stopped)`);
  };
  return {
    get<T>(kind: StoreKind, key: string) {
      open();
      const row = getStmt.get(kind, storeKey(key)) as { json: string } | undefined;
      return row ? (JSON.parse(row.json) as T) : undefined;
    },
    put<T>(kind: StoreKind, key: string, value: T) {
      open();
      putStmt.run(kind, storeKey(key), JSON.stringify(value));
    },
    delete(kind: StoreKind, key: string) {
      open();
      deleteStmt.run(kind, storeKey(key));
    },
    list<T>(kind: StoreKind, keyPrefix = '') {
      open();
      const prefix = storeKey(keyPrefix);
      return (listStmt.all(kind, prefix.length, prefix) as { json: string }[]).map((row) => JSON.parse(row.json) as T);
    },
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
