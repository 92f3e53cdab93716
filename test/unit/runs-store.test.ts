/** RunStore and TemplateStore on a real Azurite: records, logs, progress slices, listing, templates. */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../local/azurite.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { openRunStore, RunStore } from '../../src/runs/store.ts';
import { openTemplateStore, TemplateNameError, type TemplateStore } from '../../src/runs/templates.ts';

let dir: string;
let azurite: Azurite;
let runs: RunStore;
let templates: TemplateStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-runs-'));
  azurite = await startAzurite({ location: dir, port: 0 });
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  runs = await openRunStore(blobs);
  templates = await openTemplateStore(blobs);
});

afterAll(async () => {
  await azurite?.close();
  rmSync(dir, { recursive: true, force: true });
});

function record(id: string, status: RunRecord['status'], createdAt: string): RunRecord {
  return { id, templateName: 'web', trigger: 'http', status, createdAt, steps: [], outputs: { regions: {}, scaleSets: [] } };
}

describe('RunStore', () => {
  it('writes and reads a record, and answers undefined for an unknown run', async () => {
    const run = record('web-20261125T130000Z-0001', 'Running', '2026-11-25T13:00:00.000Z');
    await runs.put(run);
    expect(await runs.get(run.id)).toEqual(run);
    await runs.put({ ...run, status: 'Succeeded', endedAt: '2026-11-25T13:01:00.000Z' });
    expect((await runs.get(run.id))?.status).toBe('Succeeded');
    expect(await runs.get('web-20261125T130000Z-ffff')).toBeUndefined();
  });

  it('finds unfinished runs by their index tag, without listing the container, and drops a run once it ends', async () => {
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await blobs.createContainer('runs-index');
    const container = blobs.getContainerClient('runs-index');
    // A listing of every run ever made is what the index spares the janitor.
    const refuseListing = () => { throw new Error('listed the whole container'); };
    const store = new RunStore(Object.assign(Object.create(container) as typeof container, { listBlobsFlat: refuseListing, listBlobsByHierarchy: refuseListing }));
    const at = '2026-11-25T13:00:00.000Z';
    const [running, pending, succeeded, failed] = [
      record('web-20261125T130000Z-0101', 'Running', at), record('web-20261125T130000Z-0102', 'Pending', at),
      record('web-20261125T130000Z-0103', 'Succeeded', at), record('web-20261125T130000Z-0104', 'Failed', at),
    ];
    for (const r of [running, succeeded, failed]) await store.put(r);
    expect(await store.create(pending)).toBe(true);
    await store.appendLog(running.id, 'customize', 'a log is no record\n');
    expect((await store.listUnfinished()).sort()).toEqual([running.id, pending.id]);
    await store.put({ ...running, status: 'Canceled', endedAt: at });
    expect(await store.listUnfinished()).toEqual([pending.id]);
  });

  it('merges the live progress of sub-orchestrations into a running record, not into a finished one', async () => {
    const running = record('web-20261125T130000Z-0002', 'Running', '2026-11-25T13:00:00.000Z');
    await runs.put(running);
    await runs.putProgress(running.id, 'region-westeurope', { kind: 'region', region: 'westeurope', state: 'Replicating', percent: 40 });
    await runs.putProgress(running.id, 'scaleset-0', {
      kind: 'scaleSet', scaleSetId: '/s/web-vmss', status: 'Updating', updated: 1, total: 3, batch: 1, batches: 3,
    });
    const merged = await runs.get(running.id);
    expect(merged?.outputs.regions).toEqual({ westeurope: 'Replicating' });
    expect(merged?.outputs.scaleSets).toEqual([{ id: '/s/web-vmss', status: 'Updating', updated: 1, total: 3 }]);
    await runs.put({ ...running, status: 'Succeeded', endedAt: '2026-11-25T13:02:00.000Z' });
    expect((await runs.get(running.id))?.outputs.regions).toEqual({});
  });

  it('appends to step logs and reads them back in the order the steps began', async () => {
    const id = 'web-20261125T130000Z-0003';
    await runs.appendLog(id, 'customize', 'line 1\n');
    await runs.appendLog(id, 'validate', 'checked\n');
    await runs.appendLog(id, 'customize', 'line 2\n');
    expect(await runs.readLogs(id)).toEqual([
      { step: 'customize', text: 'line 1\nline 2\n' },
      { step: 'validate', text: 'checked\n' },
    ]);
    await expect(runs.appendLog(id, '../x', 'no')).rejects.toThrow(/expected a step name of lower-case letters, digits and dashes, found "..\/x"/);
  });

  it('appends at a position once: creates the log at 0, appends after it, refuses a stale position and a log that is not there', async () => {
    const id = 'web-20261125T130000Z-0009';
    expect(await runs.appendLogAt(id, 'customize', Buffer.from('one\n'), 0)).toBe(4);
    expect(await runs.appendLogAt(id, 'customize', Buffer.from('two\n'), 4)).toBe(8);
    // Written there already (an earlier attempt): not again.
    expect(await runs.appendLogAt(id, 'customize', Buffer.from('two\n'), 4)).toBeUndefined();
    expect((await runs.readLog(id, 'customize')).toString()).toBe('one\ntwo\n');
    // A log the caller thought 4 bytes long but that does not exist: made, and the position refused.
    expect(await runs.appendLogAt(id, 'validate', Buffer.from('x\n'), 4)).toBeUndefined();
    expect(await runs.logLength(id, 'validate')).toBe(0);
  });

  it('lists records newest first, filtered by status, a page at a time', async () => {
    await runs.put(record('app-20261125T120000Z-0001', 'Failed', '2026-11-25T12:00:00.000Z'));
    await runs.put(record('app-20261125T140000Z-0001', 'Failed', '2026-11-25T14:00:00.000Z'));
    const failed = await runs.list({ status: 'Failed' });
    expect(failed.records.map((r) => r.id)).toEqual(['app-20261125T140000Z-0001', 'app-20261125T120000Z-0001']);
    const first = await runs.list({ limit: 2 });
    expect(first.records).toHaveLength(2);
    expect(first.continuationToken).toBeDefined();
    const second = await runs.list({ limit: 2, continuationToken: first.continuationToken! });
    expect(second.records.map((r) => r.id)).not.toContain(first.records[0]!.id);
  });
});

describe('TemplateStore', () => {
  it('puts, reads, lists and deletes templates by name', async () => {
    const template = { properties: { source: { type: 'PlatformImage' } } };
    await templates.put('ubuntu-web', template);
    expect(JSON.parse((await templates.read('ubuntu-web'))!.text)).toEqual(template);
    expect(await templates.list()).toContain('ubuntu-web');
    expect(await templates.delete('ubuntu-web')).toBe(true);
    expect(await templates.delete('ubuntu-web')).toBe(false);
    expect(await templates.read('ubuntu-web')).toBeUndefined();
  });

  it('keeps an HCL2 template with the values beside it, and a rewrite removes what it no longer gives', async () => {
    await templates.put('web', { properties: {} });
    await templates.write('web', { format: 'hcl', text: 'source "azure-arm" "x" {}', parameters: '{"a":"1"}', variables: 'b = "2"' });
    expect(await templates.read('web')).toMatchObject({ file: 'web.pkr.hcl', text: 'source "azure-arm" "x" {}', parameters: '{"a":"1"}', variables: 'b = "2"' });
    // The JSON spelling was replaced, and the values files are not templates of their own.
    expect((await templates.list()).filter((n) => n.startsWith('web'))).toEqual(['web']);
    await templates.write('web', { format: 'hcl', text: 'source "azure-arm" "y" {}' });
    const again = await templates.read('web');
    expect(again).toMatchObject({ file: 'web.pkr.hcl', text: 'source "azure-arm" "y" {}' });
    expect(again).not.toHaveProperty('parameters');
    expect(again).not.toHaveProperty('variables');
    expect(await templates.delete('web')).toBe(true);
    expect(await templates.list()).not.toContain('web');
  });

  it('refuses a name that is not a plain blob name, or that would read as a values file', async () => {
    await expect(templates.read('../runs/x')).rejects.toThrow(TemplateNameError);
    await expect(templates.put('web.parameters', {})).rejects.toThrow(TemplateNameError);
  });
});
