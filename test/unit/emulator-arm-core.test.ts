// The emulator's ARM core without a server: route matching, name/version validation and the operation engine's clock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
  it('a closed store fails late reads with a clear error, and the engine says it is closed', async () => {
    const { store } = await newStore();
    const engine = new OperationEngine(store);
    const op = engine.start({ subscriptionId: 's', location: 'eastus', apiVersion: '2026-04-01', style: 'compute', resourceId: '/r', operation: 'x', steps: [], external: true });
    engine.close();
    store.close();
    expect(engine.closed).toBe(true);
    expect(() => engine.get(op.id)).toThrow(/state store in .* is closed \(the emulator has stopped\)/);
    expect(() => engine.finish(op, {})).toThrow(/is closed/);
  });

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

  it('an effect that throws fails its operation with InternalExecutionError naming the effect and the reason', async () => {
    const { store } = await newStore();
    const engine = new OperationEngine(store);
    engine.registerEffect('broken', () => {
      throw new Error('disk vanished');
    });
    const op = engine.start({ subscriptionId: 's', location: 'eastus', apiVersion: '2026-04-01', style: 'compute', resourceId: '/r', operation: 'x', steps: [{ at: Date.now(), effect: { kind: 'broken', args: {} } }] });
    await engine.settle();
    expect(engine.get(op.id)).toMatchObject({ status: 'Failed', error: { code: 'InternalExecutionError', message: 'An internal execution error occurred while applying broken: disk vanished' } });
  });

  it('applies operations on different resources at once: an effect may wait for another resource\'s effect', async () => {
    const { store } = await newStore();
    const engine = new OperationEngine(store);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    engine.registerEffect('waits', () => gate);
    engine.registerEffect('opens', () => open());
    const now = Date.now();
    const base = { subscriptionId: 's', location: 'eastus', apiVersion: '2026-04-01', style: 'compute' as const, operation: 'x' };
    const waits = engine.start({ ...base, resourceId: '/a', steps: [{ at: now - 10, effect: { kind: 'waits', args: {} } }] });
    const opens = engine.start({ ...base, resourceId: '/b', steps: [{ at: now, effect: { kind: 'opens', args: {} } }] });
    // One at a time, the first effect would wait for the second until its 120 s deadline.
    await engine.settle(now);
    expect([engine.get(waits.id)?.status, engine.get(opens.id)?.status]).toEqual(['Succeeded', 'Succeeded']);
  });

  it('a hung effect delays no unrelated request; later operations on its resource wait their turn', async () => {
    const { store } = await newStore();
    const engine = new OperationEngine(store, { patienceMs: 10 });
    const applied: string[] = [];
    let release: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => (release = resolve));
    engine.registerEffect('hang', () => hung.then(() => void applied.push('hang')));
    engine.registerEffect('note', (args) => void applied.push(String(args.name)));
    const now = Date.now();
    const base = { subscriptionId: 's', location: 'eastus', apiVersion: '2026-04-01', style: 'compute' as const, operation: 'x' };
    const stuck = engine.start({ ...base, resourceId: '/stuck', steps: [{ at: now, effect: { kind: 'hang', args: {} } }] });
    const behind = engine.start({ ...base, resourceId: '/STUCK', steps: [{ at: now + 1, effect: { kind: 'note', args: { name: 'behind' } } }] });
    const other = engine.start({ ...base, resourceId: '/other', steps: [{ at: now + 1, effect: { kind: 'note', args: { name: 'other' } } }] });
    await engine.settle(now + 1);
    expect(applied).toEqual(['other']);
    expect([engine.get(stuck.id)?.status, engine.get(behind.id)?.status, engine.get(other.id)?.status]).toEqual(['InProgress', 'InProgress', 'Succeeded']);
    // A request arriving while the effect is still stuck does not wait for it at all.
    const later = engine.start({ ...base, resourceId: '/later', steps: [{ at: now + 2, effect: { kind: 'note', args: { name: 'later' } } }] });
    await engine.settle(now + 2);
    expect(engine.get(later.id)?.status).toBe('Succeeded');
    release();
    await vi.waitFor(() => expect(engine.get(behind.id)?.status).toBe('Succeeded'));
    expect(applied).toEqual(['other', 'later', 'hang', 'behind']);
    expect([engine.get(stuck.id)?.status, engine.get(behind.id)?.status]).toEqual(['Succeeded', 'Succeeded']);
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
