// Fault injection through the SDK clients: throttling with Retry-After (honoured by the SDK's retry policy), 500s,
// LROs that end Failed (AllocationFailed, OperationPreempted), run command timeouts, and rules set over HTTPS.
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, UBUNTU, failure, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;

/** PUT /_emulator/faults as a test in another process would. */
function putFaults(body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.emulator.armEndpoint}/_emulator/faults`, { method: 'PUT', ca: t.emulator.caPem, headers: { authorization: `Bearer ${t.emulator.token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  t = await startTestEmulator();
  await t.resources.resourceGroups.createOrUpdate('rg-f', { location: 'eastus' });
});
afterAll(async () => {
  await t?.close();
});

describe('injected faults', () => {
  it('429 with Retry-After: the SDK waits that long and retries, then succeeds', async () => {
    t.emulator.faults.set([{ match: { operation: 'resourceGroups.get' }, kind: 'throttle', retryAfterSeconds: 1, count: 1 }]);
    const started = Date.now();
    expect((await t.resources.resourceGroups.get('rg-f')).name).toBe('rg-f');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(t.emulator.faults.list()[0]).toMatchObject({ fired: 1, remaining: 0 });
  });

  it('429 that persists reaches the caller as RestError 429 after the SDK gives up', async () => {
    t.emulator.faults.set([{ match: { operation: 'resourceGroups.get' }, kind: 'throttle', retryAfterSeconds: 0 }]);
    expect(await failure(t.resources.resourceGroups.get('rg-f'))).toMatchObject({ code: 'TooManyRequests', statusCode: 429 });
    expect(t.emulator.faults.list()[0]?.fired).toBe(4);
    t.emulator.faults.clear();
  });

  it('500 is retried by the SDK with backoff', async () => {
    t.emulator.faults.set([{ match: { method: 'GET', pathContains: '/resourcegroups/rg-f' }, kind: 'error500', count: 1 }]);
    expect((await t.resources.resourceGroups.get('rg-f')).name).toBe('rg-f');
    expect(t.emulator.faults.list()[0]?.fired).toBe(1);
  });

  it('an LRO that ends Failed: the poller throws with the code, and the VM is marked Failed', async () => {
    t.emulator.faults.set([{ match: { operation: 'virtualMachines.createOrUpdate' }, kind: 'lroFailed', count: 1 }]);
    const failed = await failure(t.compute.virtualMachines.createOrUpdate('rg-f', 'alloc', vmModel({ image: UBUNTU }), FAST_POLL));
    expect(failed.message).toMatch(/^The long-running operation has failed\. AllocationFailed\. Allocation failed/);
    expect((await t.compute.virtualMachines.get('rg-f', 'alloc')).provisioningState).toBe('Failed');
    // A retried create (the same PUT again) builds the VM this time.
    expect((await t.compute.virtualMachines.createOrUpdate('rg-f', 'alloc', vmModel({ image: UBUNTU }), FAST_POLL)).provisioningState).toBe('Succeeded');

    await t.compute.virtualMachines.createOrUpdate('rg-f', 'vm', vmModel({ image: UBUNTU }), FAST_POLL);
    t.emulator.faults.set([{ match: { operation: 'virtualMachines.deallocate' }, kind: 'lroFailed', code: 'OperationPreempted', count: 1 }]);
    const preempted = await failure(t.compute.virtualMachines.deallocate('rg-f', 'vm', FAST_POLL));
    expect(preempted.message).toContain('OperationPreempted. Operation execution has been preempted by a more recent operation.');
  });

  it('a run command that times out', async () => {
    t.emulator.faults.set([{ match: { operation: 'virtualMachineRunCommands.createOrUpdate' }, kind: 'runCommandTimeout', count: 1 }]);
    await t.compute.virtualMachines.start('rg-f', 'vm', FAST_POLL);
    await t.compute.virtualMachineRunCommands.createOrUpdate('rg-f', 'vm', 'rc', { location: 'eastus', source: { script: 'echo never' }, treatFailureAsDeploymentFailure: false }, FAST_POLL);
    const rc = await t.compute.virtualMachineRunCommands.getByVirtualMachine('rg-f', 'vm', 'rc', { expand: 'instanceView' });
    expect(rc.instanceView).toMatchObject({ executionState: 'TimedOut' });
    expect(rc.instanceView?.output ?? '').toBe('');
  });

  it('rules can be set over HTTPS, and bad rules are refused with the field named', async () => {
    const ok = await putFaults(JSON.stringify([{ match: { operation: 'resourceGroups.get' }, kind: 'error500', count: 2 }]));
    expect(ok.status).toBe(200);
    expect(t.emulator.faults.list()).toMatchObject([{ kind: 'error500', remaining: 2 }]);
    const bad = await putFaults(JSON.stringify([{ match: {}, kind: 'explode' }]));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('kind');
    expect(t.emulator.faults.list()).toMatchObject([{ kind: 'error500' }]);
    const notJson = await putFaults('{');
    expect(notJson.status).toBe(400);
    t.emulator.faults.clear();
  });
});
