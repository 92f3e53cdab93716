// Fault rules: validation with field-level messages, matching, counts, per-kind defaults.
import { describe, expect, it } from 'vitest';
import { createFaultController, FaultRuleError } from '../../local/azure/faults.ts';

const request = { operation: 'virtualMachines.createOrUpdate', method: 'PUT', path: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1' };

describe('fault controller', () => {
  it('fires a counted rule the given number of times, then stops', () => {
    const faults = createFaultController([{ match: { operation: 'virtualmachines.CREATEORUPDATE' }, kind: 'throttle', retryAfterSeconds: 3, count: 2 }]);
    expect(faults.take(request)).toMatchObject({ kind: 'throttle', code: 'TooManyRequests', retryAfterSeconds: 3 });
    expect(faults.take(request)).toBeDefined();
    expect(faults.take(request)).toBeUndefined();
    expect(faults.list()[0]).toMatchObject({ fired: 2, remaining: 0 });
  });

  it('matches on method and path substring, and filters by the kinds the caller handles', () => {
    const faults = createFaultController();
    faults.set([
      { match: { method: 'get' }, kind: 'error500' },
      { match: { pathContains: '/VIRTUALMACHINES/' }, kind: 'lroFailed', code: 'OperationPreempted' },
    ]);
    expect(faults.take(request, ['throttle', 'error500'])).toBeUndefined();
    expect(faults.take(request, ['lroFailed'])).toMatchObject({ code: 'OperationPreempted', message: expect.stringContaining('preempted') });
    expect(faults.take({ ...request, method: 'GET' })).toMatchObject({ kind: 'error500', code: 'InternalServerError' });
    faults.clear();
    expect(faults.list()).toEqual([]);
  });

  it('rejects bad rules with the field, what was expected and what was found, keeping the old rules', () => {
    const faults = createFaultController([{ match: {}, kind: 'unhealthy' }]);
    expect(() => faults.set({ kind: 'throttle' })).toThrow('faults: expected a JSON list of rules, found an object');
    expect(() => faults.set([{ match: {}, kind: 'explode' }])).toThrow(/faults\[0\]\.kind: .*"throttle".*found "explode"/);
    expect(() => faults.set([{ match: { method: 'FETCH' }, kind: 'throttle' }])).toThrow(/faults\[0\]\.match\.method/);
    expect(() => faults.add({ match: {}, kind: 'throttle', count: 0 })).toThrow(FaultRuleError);
    expect(() => faults.add({ match: {}, kind: 'throttle', retryAfter: 5 })).toThrow(/Unrecognized key.*retryAfter/);
    expect(faults.list()).toEqual([{ match: {}, kind: 'unhealthy', fired: 0 }]);
  });
});
