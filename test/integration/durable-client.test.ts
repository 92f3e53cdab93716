import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRequest } from '@azure/functions';
import * as df from 'durable-functions';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { durableApps, startDurableHost, type DurableTestHost } from './durable-helpers.ts';

let t: DurableTestHost;

beforeAll(async () => {
  t = await startDurableHost();
});

afterAll(async () => {
  await t?.close();
});

describe('durable engine: the DurableClient over HTTP', () => {
  it('starts through an HTTP client function and answers with the check-status response', async () => {
    const response = await fetch(`${t.host.url}/api/start/Sequence/http-1`, { method: 'POST', body: JSON.stringify(['Rome']) });
    expect(response.status).toBe(202);
    const payload = (await response.json()) as Record<string, string>;
    expect(payload.id).toBe('http-1');
    expect(response.headers.get('location')).toBe(payload.statusQueryGetUri);
    expect(payload.statusQueryGetUri).toMatch(new RegExp(`^${t.host.url}/runtime/webhooks/durabletask/instances/http-1\\?`));
    await t.waitFor('http-1');
    const status = await fetch(payload.statusQueryGetUri!);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ instanceId: 'http-1', runtimeStatus: 'Completed', output: ['Hello Rome!'] });
    const raise = await fetch(payload.sendEventPostUri!.replace('{eventName}', 'late'), { method: 'POST', body: '1' });
    expect(raise.status).toBe(410);
  });

  it('replaces a running instance on a second start when host.json leaves overridableExistingInstanceStates at AnyState', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-anystate-'));
    const hostJson = JSON.parse(readFileSync(join(durableApps, 'host.json'), 'utf8')) as { extensions: { durableTask: Record<string, unknown> } };
    delete hostJson.extensions.durableTask.overridableExistingInstanceStates;
    writeFileSync(join(dir, 'host.json'), JSON.stringify(hostJson));
    const any = await startDurableHost({ hostJsonPath: join(dir, 'host.json') });
    try {
      await any.client.startNew('Approval', { instanceId: 'dup-any' });
      await any.waitFor('dup-any', (s) => s.runtimeStatus === 'Running');
      expect(await any.client.startNew('Sequence', { instanceId: 'dup-any', input: [] })).toBe('dup-any');
      expect(await any.waitFor('dup-any')).toMatchObject({ name: 'Sequence', runtimeStatus: 'Completed', output: [] });
    } finally {
      await any.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second start of a running instance id (host.json NonRunningStates), and restarts a finished one', async () => {
    await t.client.startNew('Approval', { instanceId: 'dup-1' });
    await expect(t.client.startNew('Approval', { instanceId: 'dup-1' })).rejects.toThrow(/409.*already exists and is (Pending|Running)/);
    await t.client.terminate('dup-1', 'test over');
    await t.waitFor('dup-1');
    expect(await t.client.startNew('Sequence', { instanceId: 'dup-1', input: [] })).toBe('dup-1');
    expect((await t.waitFor('dup-1')).output).toEqual([]);
  });

  it('terminates with the reason; later raise/terminate are accepted as gone', async () => {
    const id = await t.client.startNew('Approval');
    await t.client.terminate(id, 'no longer needed');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Terminated');
    expect(status.output).toBe('no longer needed');
    await t.client.raiseEvent(id, 'approve', {});
    await t.client.terminate(id, 'again');
    expect((await t.client.getStatus(id)).output).toBe('no longer needed');
  });

  it('answers unknown instances and bad requests with clear errors', async () => {
    await expect(t.client.getStatus('nope')).rejects.toThrow(/404/);
    await expect(t.client.raiseEvent('nope', 'x', 1)).rejects.toThrow("No instance with ID 'nope' found.");
    await expect(t.client.startNew('NoSuchOrchestrator')).rejects.toThrow(/no orchestrator function named 'NoSuchOrchestrator' is registered/);
    await expect(t.client.startNew('Hello')).rejects.toThrow(/no orchestrator function named 'Hello'/);
    const rpc = t.host.engine.clientInput(t.host.url).rpcBaseUrl as string;
    const badJson = await fetch(`${rpc}orchestrators/Sequence`, { method: 'POST', body: '{not json' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message: string }).message).toBe('request body: expected JSON, found "{not json"');
    const badId = await fetch(`${rpc}orchestrators/Sequence/%40bad`, { method: 'POST', body: '' });
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { message: string }).message).toMatch(/^instanceId: expected no .* leading '@', found "@bad"/);
    const badFilter = await fetch(`${rpc}instances/?runtimeStatus=Sleeping`);
    expect(badFilter.status).toBe(400);
    expect(((await badFilter.json()) as { message: string }).message).toMatch(/query runtimeStatus: expected some of .*found "Sleeping"/);
  });

  it('filters by status and creation time, and pages with continuation tokens', async () => {
    const before = new Date(t.clock.now() - 1);
    const ids = await Promise.all(Array.from({ length: 105 }, (_, i) => t.client.startNew('Sequence', { instanceId: `page-${String(i).padStart(3, '0')}`, input: [] })));
    await Promise.all(ids.map((id) => t.waitFor(id)));
    // The engine pages at 100: the client follows the x-ms-continuation-token and concatenates.
    const completed = await t.client.getStatusBy({ createdTimeFrom: before, runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] });
    expect(completed.map((s) => s.instanceId).sort()).toEqual(ids.sort());
    const all = await t.client.getStatusAll();
    expect(all.length).toBeGreaterThanOrEqual(105 + 3);
    const none = await t.client.getStatusBy({ createdTimeTo: new Date(0) });
    expect(none).toEqual([]);
    const rpc = t.host.engine.clientInput(t.host.url).rpcBaseUrl as string;
    const page = await fetch(`${rpc}instances/?top=2&createdTimeFrom=${before.toISOString()}`);
    expect(((await page.json()) as unknown[]).length).toBe(2);
    const token = page.headers.get('x-ms-continuation-token')!;
    const next = await fetch(`${rpc}instances/?top=2&createdTimeFrom=${before.toISOString()}`, { headers: { 'x-ms-continuation-token': token } });
    expect(((await next.json()) as { instanceId: string }[]).map((s) => s.instanceId)).toEqual(['page-002', 'page-003']);
  });

  it('waits for completion, or answers with the check-status response while the instance runs', async () => {
    const request = new HttpRequest({ method: 'GET', url: `${t.host.url}/api/anything` });
    const id = await t.client.startNew('Sequence', { input: ['Kyiv'] });
    const done = await t.client.waitForCompletionOrCreateCheckStatusResponse(request, id, { timeoutInMilliseconds: 5_000, retryIntervalInMilliseconds: 20 });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual(['Hello Kyiv!']);
    const waiting = await t.client.startNew('Approval');
    const pending = await t.client.waitForCompletionOrCreateCheckStatusResponse(request, waiting, { timeoutInMilliseconds: 100, retryIntervalInMilliseconds: 20 });
    expect(pending.status).toBe(202);
    expect(pending.headers.get('location')).toMatch(new RegExp(`^${t.host.url}/runtime/webhooks/durabletask/instances/${waiting}\\?`));
    await t.client.terminate(waiting, 'test over');
  });

  it('purges by filter only finished instances', async () => {
    const from = new Date(t.clock.now());
    const finished = await t.client.startNew('Sequence', { input: [] });
    await t.waitFor(finished);
    const running = await t.client.startNew('Approval');
    await t.waitFor(running, (s) => s.runtimeStatus === 'Running');
    const result = await t.client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Running] });
    expect(result.instancesDeleted).toBe(1);
    await expect(t.client.getStatus(finished)).rejects.toThrow(/404/);
    expect((await t.client.getStatus(running)).runtimeStatus).toBe('Running');
    await t.client.terminate(running, 'test over');
  });

  it('purges a finished instance and its history', async () => {
    const id = await t.client.startNew('Sequence', { input: ['Bern'] });
    await t.waitFor(id);
    expect(await t.client.purgeInstanceHistory(id)).toEqual({ instancesDeleted: 1 });
    await expect(t.client.getStatus(id)).rejects.toThrow(/404/);
    expect((await t.client.purgeInstanceHistory(id)).instancesDeleted).toBe(0);
  });
});

describe('durable engine: entities', () => {
  it('serializes read-modify-write sections under a lock: no lost updates', async () => {
    const ids = await Promise.all([1, 2, 3, 4].map(() => t.client.startNew('LockedIncrement', { input: 'k1' })));
    const results = await Promise.all(ids.map((id) => t.waitFor(id)));
    expect(results.map((s) => s.runtimeStatus)).toEqual(['Completed', 'Completed', 'Completed', 'Completed']);
    expect(results.map((s) => s.output as number).sort()).toEqual([1, 2, 3, 4]);
    const state = await t.client.readEntityState<number>(new df.EntityId('Counter', 'k1'));
    expect(state).toEqual({ entityExists: true, entityState: 4 });
  });

  it('frees locks of terminated instances, held or still requested', async () => {
    const holder = await t.client.startNew('HoldLock', { input: 'k3' });
    await t.waitFor(holder, (s) => s.runtimeStatus === 'Running');
    const waiter = await t.client.startNew('LockedIncrement', { input: 'k3' });
    await t.waitFor(waiter, (s) => s.runtimeStatus === 'Running');
    await t.client.terminate(waiter, 'gave up waiting');
    await t.client.raiseEvent(holder, 'release', null);
    expect((await t.waitFor(holder)).output).toBe('released');
    const next = await t.client.startNew('LockedIncrement', { input: 'k3' });
    expect((await t.waitFor(next)).output).toBe(1);

    const second = await t.client.startNew('HoldLock', { input: 'k3' });
    await t.waitFor(second, (s) => s.runtimeStatus === 'Running');
    await t.client.terminate(second, 'stop holding');
    const after = await t.client.startNew('LockedIncrement', { input: 'k3' });
    expect((await t.waitFor(after)).output).toBe(2);
  });

  it('does not poll an entity in a loop while its lock keeps a request waiting', async () => {
    const holder = await t.client.startNew('HoldLock', { input: 'idle' });
    await t.waitFor(holder, (s) => s.runtimeStatus === 'Running');
    const waiter = await t.client.startNew('LockedIncrement', { input: 'idle' });
    await t.waitFor(waiter, (s) => s.runtimeStatus === 'Running');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const used = process.cpuUsage(before);
    // Idle is about 1 ms of CPU here; a dispatcher spinning on the blocked entity burns hundreds.
    expect((used.user + used.system) / 1000).toBeLessThan(100);
    await t.client.raiseEvent(holder, 'release', null);
    expect((await t.waitFor(waiter)).output).toBe(1);
  });

  it('delivers signals in order before a later call, from orchestrations and from the client', async () => {
    const id = await t.client.startNew('SignalCounter', { input: 'k2' });
    expect((await t.waitFor(id)).output).toBe(5);
    await t.client.signalEntity(new df.EntityId('Counter', 'k2'), 'add', 2);
    const deadline = Date.now() + 20_000;
    let state = await t.client.readEntityState<number>(new df.EntityId('Counter', 'k2'));
    while (state.entityState !== 7 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      state = await t.client.readEntityState<number>(new df.EntityId('Counter', 'k2'));
    }
    expect(state.entityState).toBe(7);
    expect((await t.client.readEntityState(new df.EntityId('Counter', 'never'))).entityExists).toBe(false);
    // Keys may be resource ids, slashes and all.
    const imageKey = '/subscriptions/s/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/g/images/ubuntu-web';
    await t.client.signalEntity(new df.EntityId('Counter', imageKey), 'add', 3);
    const id2 = await t.client.startNew('SignalCounter', { input: imageKey });
    expect((await t.waitFor(id2)).output).toBe(8);
    expect((await t.client.readEntityState<number>(new df.EntityId('Counter', imageKey))).entityState).toBe(8);
  });
});
