import { join } from 'node:path';
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
});
