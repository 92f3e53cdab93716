import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableStore } from '../../local/host/durable/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-durable-store-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('durable store', () => {
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
