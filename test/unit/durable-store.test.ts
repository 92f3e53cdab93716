import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableStore } from '../../src/local/host/durable/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-durable-store-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('durable store', () => {
  it('belongs to one host at a time: a second opener gets a clear error, the next one after close succeeds', () => {
    const path = join(dir, 'durable.db');
    const first = new DurableStore(path);
    expect(() => new DurableStore(path)).toThrow(`durable store ${path}: in use by another host process (database is locked)`);
    first.close();
    const second = new DurableStore(path);
    second.close();
  });

  it('rolls a failed transaction back entirely', () => {
    const store = new DurableStore(join(dir, 'tx.db'));
    try {
      expect(() =>
        store.transaction(() => {
          store.enqueueEntityMessage('@counter@k', { kind: 'op' });
          throw new Error('halfway');
        }),
      ).toThrow('halfway');
      expect(store.entitiesWithMessages()).toEqual([]);
    } finally {
      store.close();
    }
  });
});
