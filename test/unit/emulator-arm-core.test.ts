// The emulator's ARM core without a server: route matching, name/version validation and the operation engine's clock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArmError } from '../../local/azure/arm/errors.ts';
import { OperationEngine, acceptedAction, monitorBody, operationResult } from '../../local/azure/arm/lro.ts';
import { RouteTable } from '../../local/azure/arm/routes.ts';
import { openSqliteStore, type ArmStore } from '../../local/azure/arm/store.ts';
import { compareVersions, parseVersionName, validateName } from '../../local/azure/arm/validate.ts';

const stores: { store: ArmStore; dir: string }[] = [];
async function newStore(dir?: string): Promise<{ store: ArmStore; dir: string }> {
  const home = dir ?? (await mkdtemp(join(tmpdir(), 'kiln-arm-core-')));
  const entry = { store: openSqliteStore(home), dir: home };
  stores.push(entry);
  return entry;
}
afterEach(async () => {
  for (const { store, dir } of stores.splice(0)) {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('route table', () => {
  const table = new RouteTable().add(
    { method: 'GET', pattern: '/subscriptions/{sub}/resourceGroups/{rg}', operation: 'resourceGroups.get', api: 'resources', handler: () => ({ status: 200 }) },
    { method: 'POST', pattern: '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}/start', operation: 'virtualMachines.start', api: 'compute', handler: () => ({ status: 202 }) },
  );

  it('matches ARM paths case-insensitively and decodes parameters', () => {
    const { match } = table.match('get', '/subscriptions/s1/resourcegroups/my%20rg');
    expect(match?.route.operation).toBe('resourceGroups.get');
    expect(match?.params).toEqual({ sub: 's1', rg: 'my rg' });
    expect(table.match('POST', '/SUBSCRIPTIONS/s/RESOURCEGROUPS/r/PROVIDERS/microsoft.compute/VIRTUALMACHINES/v/START').match?.params.vm).toBe('v');
  });

  it('tells a known path with another method from an unknown path', () => {
    expect(table.match('DELETE', '/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/v/start')).toEqual({ pathKnown: true });
    expect(table.match('GET', '/subscriptions/s/resourceGroups/r/extra')).toEqual({ pathKnown: false });
  });
});

describe('validation', () => {
  it('parses Major.Minor.Patch with 32-bit parts and compares numerically', () => {
    expect(parseVersionName('1.0.10')).toEqual([1, 0, 10]);
    expect(compareVersions('1.0.10', '1.0.9')).toBeGreaterThan(0);
    for (const bad of ['1.0', '1.0.0.0', 'v1.0.0', '1.0.2147483648', '1.-1.0']) expect(() => parseVersionName(bad)).toThrow(ArmError);
  });

  it('checks names per resource type with the rule in the message', () => {
    expect(() => validateName('virtualMachine', 'build-vm')).not.toThrow();
    expect(() => validateName('virtualMachine', 'ends-with-')).toThrow(/hyphen/);
    expect(() => validateName('gallery', 'has-hyphen')).toThrow(ArmError);
    expect(() => validateName('resourceGroup', 'rg.')).toThrow(/InvalidResourceGroupName|period/);
  });
});

describe('operation engine', () => {
  it('applies due steps in time order and ends the operation; a failing effect fails it', async () => {
    const { store } = await newStore();
    const engine = new OperationEngine(store);
    const applied: string[] = [];
    engine.registerEffect('note', (args) => void applied.push(String(args.name)));
    engine.registerEffect('boom', () => ({ fail: { code: 'AllocationFailed', message: 'no capacity' } }));
    const now = Date.now();
    const base = { subscriptionId: 's', location: 'eastus', apiVersion: '2026-04-01', style: 'compute' as const, resourceId: '/r', operation: 'x' };
    const ok = engine.start({ ...base, steps: [{ at: now + 20, effect: { kind: 'note', args: { name: 'second' } } }, { at: now + 10, effect: { kind: 'note', args: { name: 'first' } } }] });
    const bad = engine.start({ ...base, steps: [{ at: now + 5, effect: { kind: 'boom', args: {} } }] });
    await engine.settle(now);
    expect(engine.get(ok.id)?.status).toBe('InProgress');
    expect(engine.running('/r').length).toBe(2);
    await engine.settle(now + 15);
    expect(applied).toEqual(['first']);
    expect(engine.get(bad.id)).toMatchObject({ status: 'Failed', error: { code: 'AllocationFailed' } });
    await engine.settle(now + 25);
    expect(applied).toEqual(['first', 'second']);
    expect(engine.get(ok.id)?.status).toBe('Succeeded');
    expect(monitorBody(engine.get(ok.id)!)).toMatchObject({ status: 'Succeeded', endTime: expect.any(String) });
    expect(() => operationResult(engine.get(bad.id)!)).toThrow(ArmError);
  });

  it('answers actions with Azure-AsyncOperation, Location (monitor=true) and Retry-After, and keeps operations across a restart', async () => {
    const entry = await newStore();
    const engine = new OperationEngine(entry.store);
    const op = engine.start({ subscriptionId: 's', location: 'westeurope', apiVersion: '2026-04-01', style: 'compute', resourceId: '/r', operation: 'x', steps: [{ at: Date.now() + 60_000, effect: { kind: 'none', args: {} } }] });
    const response = acceptedAction('https://127.0.0.1:1', op);
    expect(response.status).toBe(202);
    expect(response.headers).toEqual({
      'Azure-AsyncOperation': `https://127.0.0.1:1/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/operations/${op.id}?api-version=2026-04-01`,
      Location: `https://127.0.0.1:1/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/operations/${op.id}?monitor=true&api-version=2026-04-01`,
      'Retry-After': '1',
    });
    expect(operationResult(op)).toMatchObject({ status: 202 });
    entry.store.close();
    stores.splice(stores.indexOf(entry), 1);
    const reopened = await newStore(entry.dir);
    expect(new OperationEngine(reopened.store).running('/r').map((o) => o.id)).toEqual([op.id]);
  });
});
