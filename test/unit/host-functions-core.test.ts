import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadApp } from '../../local/host/functions-core.ts';

const fixtures = join(import.meta.dirname, '../fixtures/host-apps');

describe('@azure/functions-core provider', () => {
  it('collects each registration with its bindings, trigger and handler', async () => {
    const functions = await loadApp(join(fixtures, 'durable-app.ts'));
    expect([...functions.values()].map((fn) => [fn.metadata.name, fn.trigger.type])).toEqual([
      ['greet', 'orchestrationTrigger'],
      ['sayHello', 'activityTrigger'],
      ['startGreet', 'httpTrigger'],
    ]);
    const starter = functions.get('startgreet')!;
    const bindings = Object.values(starter.metadata.bindings);
    expect(bindings.find((b) => b.type === 'durableClient')).toMatchObject({ direction: 'in' });
    expect(starter.metadata.bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
    expect(starter.trigger).toMatchObject({ route: 'start/{name}', methods: ['POST'], authLevel: 'function' });
    expect(typeof starter.handler).toBe('function');
  });

  it('returns the same registrations when the same entry is loaded again', async () => {
    const entry = join(fixtures, 'durable-app.ts');
    expect(await loadApp(entry)).toBe(await loadApp(entry));
  });

  it('refuses an app that registers nothing, explaining the test-mode trap', async () => {
    await expect(loadApp(join(fixtures, 'empty-app.ts'))).rejects.toThrow(/registered no functions.*test mode/);
  });

  it('runs the app\'s appStart hooks, once, before the app counts as loaded (as the worker does before its first invocation)', async () => {
    const entry = join(fixtures, 'hooked-app.ts');
    const before = Date.now();
    const functions = await loadApp(entry);
    const app = (await import(pathToFileURL(entry).href)) as typeof import('../fixtures/host-apps/hooked-app.ts');
    expect([...functions.keys()]).toEqual(['ping']);
    expect(app.appStartsSeen()).toHaveLength(1);
    expect(app.appStartsSeen()[0]).toMatchObject({ hookData: {} });
    expect(app.appStartsSeen()[0]!.at).toBeGreaterThanOrEqual(before);
    await loadApp(entry);
    expect(app.appStartsSeen()).toHaveLength(1);
    expect(() => app.registerLateHook()).toThrow(/appStart was registered outside the app's import/);
    expect(() => app.registerOtherHook()).toThrow(/app\.hook\.preInvocation: the local Functions host runs appStart hooks only/);
  });

  it('fails the load when an appStart hook throws, naming the app and the hook\'s error', async () => {
    await expect(loadApp(join(fixtures, 'failing-hook-app.ts'))).rejects.toThrow(/failing-hook-app\.ts: an appStart hook failed: the warm-up found no storage account/);
  });
});
