/**
 * Acceptance order (src/api/bakes.ts): bakes of one image accepted together take their places on the image lock in
 * the order of their arrival times, even when the first one's record write is the slower.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DurableClient } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { startBake } from '../../src/api/bakes.ts';
import type { EnqueueRequest } from '../../src/pipeline/bake-lock.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import type { RunStore } from '../../src/runs/store.ts';
import { parseTemplate } from '../../src/template/index.ts';

const parsed = parseTemplate(JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/ubuntu-web.json'), 'utf8')), { fallbackName: 'ubuntu-web' });
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const spec = parsed.spec;

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('accepting bakes of one image at once', () => {
  it('places them on the lock in the order of their arrival times, whichever record write ends first', async () => {
    const places: EnqueueRequest[] = [];
    const records = new Map<string, RunRecord>();
    let letFirstWriteEnd!: () => void;
    const firstWrite = new Promise<void>((resolve) => (letFirstWriteEnd = resolve));
    const client = {
      signalEntity: async (_entity: unknown, _operation: string, input: EnqueueRequest) => void places.push(input),
      startNew: async () => '',
    } as unknown as DurableClient;
    const runs = {
      put: async (record: RunRecord) => {
        if (record.templateName === 'first') await firstWrite;
        records.set(record.id, record);
      },
    } as unknown as RunStore;
    const first = startBake(client, runs, { templateName: 'first', trigger: 'http', spec });
    const second = startBake(client, runs, { templateName: 'second', trigger: 'http', spec });
    // The second's write has every chance to end first.
    await turns(20);
    letFirstWriteEnd();
    const [a, b] = await Promise.all([first, second]);
    expect(places.map((p) => p.runId)).toEqual([a, b]);
    expect(Date.parse(places[0]!.now)).toBeLessThan(Date.parse(places[1]!.now));
    // The record keeps the arrival its place was taken at.
    expect([records.get(a)!.createdAt, records.get(b)!.createdAt]).toEqual(places.map((p) => p.now));
  });
});
