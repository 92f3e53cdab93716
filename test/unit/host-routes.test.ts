import { describe, expect, it } from 'vitest';
import { byPrecedence, compileRoute } from '../../local/host/routes.ts';
import { parseHostJson, parseTimeSpan } from '../../local/host/host-json.ts';
import { parseSchedule } from '../../local/host/timer-triggers.ts';
import { compileBlobPath } from '../../local/host/blob-triggers.ts';

describe('HTTP route templates', () => {
  it('binds parameters, decodes them and matches literals case-insensitively', () => {
    const route = compileRoute('builds/{id}/logs');
    expect(route.match('Builds/run%201/LOGS')).toEqual({ id: 'run 1' });
    expect(route.match('builds/x')).toBeUndefined();
    expect(route.match('builds/a/b/logs')).toBeUndefined();
  });

  it('honours optional parameters, constraints and catch-all', () => {
    expect(compileRoute('opt/{part?}').match('opt')).toEqual({});
    expect(compileRoute('opt/{part?}').match('opt/x')).toEqual({ part: 'x' });
    expect(compileRoute('items/{id:int}').match('items/42')).toEqual({ id: '42' });
    expect(compileRoute('items/{id:int}').match('items/abc')).toBeUndefined();
    expect(compileRoute('v/{id:guid}').match('v/3f2a0c1e-0000-4000-8000-000000000000')).toBeDefined();
    expect(compileRoute('r/{code:regex(^[a-z]+$)}').match('r/abc')).toEqual({ code: 'abc' });
    expect(compileRoute('files/{*path}').match('files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(compileRoute('n/{v:min(5)}').match('n/4')).toBeUndefined();
    expect(compileRoute('f/{name}.json').match('f/ubuntu-web.json')).toEqual({ name: 'ubuntu-web' });
  });

  it('orders literal before constrained before plain parameters', () => {
    const routes = ['items/{slug}', 'items/{id:int}', 'items/new', 'items/{*rest}'].map(compileRoute);
    expect(routes.sort(byPrecedence).map((r) => r.template)).toEqual(['items/new', 'items/{id:int}', 'items/{slug}', 'items/{*rest}']);
  });

  it('rejects an unknown constraint with its name', () => {
    expect(() => compileRoute('x/{id:wobbly}')).toThrow(/unknown constraint 'wobbly'/);
  });
});

describe('host.json', () => {
  it('reads the timeout, route prefix, hub name with %SETTING% and the durable limits', () => {
    const settings = parseHostJson(
      {
        functionTimeout: '01:02:03.5',
        extensions: {
          durableTask: { hubName: '%HUB%', maxConcurrentActivityFunctions: 4, maxConcurrentOrchestratorFunctions: 2 },
          http: { routePrefix: '/v1/' },
        },
      },
      { HUB: 'kiln' },
    );
    expect(settings).toEqual({
      functionTimeoutMs: 3_723_500,
      functionTimeoutText: '01:02:03.5',
      routePrefix: 'v1',
      hubName: 'kiln',
      maxConcurrentActivityFunctions: 4,
      maxConcurrentOrchestratorFunctions: 2,
      overridableExistingInstanceStates: 'AnyState',
    });
    expect(parseHostJson({ extensions: { durableTask: { overridableExistingInstanceStates: 'nonRunningStates' } } }, {}).overridableExistingInstanceStates).toBe('NonRunningStates');
    expect(parseHostJson({ functionTimeout: '-1' }, {}).functionTimeoutMs).toBeUndefined();
    expect(parseTimeSpan('1.00:00:00', 'x')).toBe(86_400_000);
  });

  it('names the field and what it found when a value is wrong', () => {
    expect(() => parseHostJson({ functionTimeout: '10 minutes' }, {})).toThrow(/functionTimeout: expected a TimeSpan.*"10 minutes"/);
    expect(() => parseHostJson({ extensions: { durableTask: { hubName: '%NOPE%' } } }, {})).toThrow(/%NOPE%, which is not set/);
    expect(() => parseHostJson({ extensions: { durableTask: { maxConcurrentActivityFunctions: 0 } } }, {})).toThrow(
      /maxConcurrentActivityFunctions: expected a positive integer, found 0/,
    );
    expect(() => parseHostJson({ extensions: { durableTask: { overridableExistingInstanceStates: 'Running' } } }, {})).toThrow(
      /overridableExistingInstanceStates: expected "AnyState" or "NonRunningStates", found "Running"/,
    );
  });
});

describe('timer schedules', () => {
  it('reads 6-field NCRONTAB in UTC and TimeSpan intervals', () => {
    const hourly = parseSchedule('0 0 * * * *', 's');
    expect(new Date(hourly.nextAfter(Date.parse('2026-01-01T00:30:00Z'))).toISOString()).toBe('2026-01-01T01:00:00.000Z');
    const everyFive = parseSchedule('*/5 * * * * *', 's');
    expect(everyFive.nextAfter(Date.parse('2026-01-01T00:00:01Z'))).toBe(Date.parse('2026-01-01T00:00:05Z'));
    expect(parseSchedule('00:05:00', 's').nextAfter(0)).toBe(300_000);
  });

  it('rejects a 5-field cron expression', () => {
    expect(() => parseSchedule('0 * * * *', 'timer')).toThrow(/6-field NCRONTAB.*found 5 fields/);
  });
});

describe('blob trigger paths', () => {
  it('binds placeholders and lists by the literal prefix', () => {
    const pattern = compileBlobPath('templates/{name}.json', 'p');
    expect(pattern.container).toBe('templates');
    expect(pattern.prefix).toBe('');
    expect(pattern.match('ubuntu-web.json')).toEqual({ name: 'ubuntu-web' });
    expect(pattern.match('a.b.json')).toEqual({ name: 'a.b' });
    expect(pattern.match('notes.txt')).toBeUndefined();
    expect(compileBlobPath('uploads/in/{folder}/{file}', 'p').match('in/x/y.bin')).toEqual({ folder: 'x', file: 'y.bin' });
    expect(compileBlobPath('uploads/in/{file}', 'p').prefix).toBe('in/');
  });

  it('rejects a placeholder in the container name', () => {
    expect(() => compileBlobPath('{c}/x', 'blob path')).toThrow(/literal container name/);
  });
});
