import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { stepFailure, operationStatus, outcome } from '../../src/activities/outcomes.ts';
import { azureError, classifyAzureError, KilnStepError, PERMANENT_ERROR, TRANSIENT_ERROR } from '../../src/azure/errors.ts';

const rest = (statusCode: number, code: string, message = code) => new RestError(message, { statusCode, code });
const vm = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';

describe('Azure error classification', () => {
  it('retries throttling, server faults and dropped connections', () => {
    expect(classifyAzureError(rest(429, 'TooManyRequests')).retryable).toBe(true);
    expect(classifyAzureError(rest(500, 'InternalServerError')).retryable).toBe(true);
    expect(classifyAzureError(rest(503, 'ServiceUnavailable')).retryable).toBe(true);
    expect(classifyAzureError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).retryable).toBe(true);
  });

  it('does not retry validation, policy, quota or missing resources', () => {
    expect(classifyAzureError(rest(400, 'InvalidParameter')).retryable).toBe(false);
    expect(classifyAzureError(rest(403, 'RequestDisallowedByPolicy')).retryable).toBe(false);
    expect(classifyAzureError(rest(409, 'QuotaExceeded')).retryable).toBe(false);
    expect(classifyAzureError(rest(404, 'ResourceNotFound')).retryable).toBe(false);
    expect(classifyAzureError(rest(501, 'NotImplemented')).retryable).toBe(false);
  });

  it('treats a 409 for an operation in flight as a race worth retrying', () => {
    expect(classifyAzureError(rest(409, 'OperationNotAllowed', 'Operation cannot be performed because another operation is in progress.')).retryable).toBe(true);
    expect(classifyAzureError(rest(409, 'OperationNotAllowed', 'Operation start is not allowed since the VM is generalized.')).retryable).toBe(false);
  });

  it('reads the code out of a failed long-running operation', () => {
    const allocation = classifyAzureError(new Error('The long-running operation has failed. AllocationFailed. Allocation failed. Try again later.'));
    expect(allocation).toMatchObject({ retryable: true, code: 'AllocationFailed', operationFailed: true, detail: 'Allocation failed. Try again later.' });
    const policy = classifyAzureError(new Error('The long-running operation has failed. OperationNotAllowed. The VM must be generalized.'));
    expect(policy).toMatchObject({ retryable: false, code: 'OperationNotAllowed', operationFailed: true });
    expect(classifyAzureError(new Error('The long-running operation has failed. OperationPreempted. Preempted.')).retryable).toBe(true);
  });

  it('names the action and the resource id in the message and the name', () => {
    const err = azureError(rest(404, 'ResourceNotFound', "The Resource 'vm1' was not found."), 'read virtual machine', vm);
    expect(err.message).toBe(`read virtual machine ${vm} failed (404 ResourceNotFound): The Resource 'vm1' was not found.`);
    expect(err.name).toBe(PERMANENT_ERROR);
    expect(azureError(rest(429, 'TooManyRequests'), 'x', vm).name).toBe(TRANSIENT_ERROR);
  });
});

describe('activity answers', () => {
  it('throw refused requests worth repeating, for the orchestration retry policy', async () => {
    await expect(operationStatus(async () => { throw azureError(rest(429, 'TooManyRequests'), 'create', vm); })).rejects.toThrow(/429/);
    await expect(outcome(async () => { throw rest(503, 'ServiceUnavailable'); })).rejects.toThrow();
  });

  it('return a failed operation as Failed, retryable when Azure says try again', async () => {
    const status = await operationStatus(async () => {
      throw azureError(new Error('The long-running operation has failed. AllocationFailed. No capacity.'), 'create virtual machine', vm);
    });
    expect(status).toEqual({
      state: 'Failed',
      error: { code: 'AllocationFailed', message: `create virtual machine ${vm} failed (AllocationFailed): No capacity.`, retryable: true, resourceId: vm },
    });
  });

  it('return permanent failures with their code', async () => {
    expect(await outcome(async () => { throw azureError(rest(403, 'AuthorizationFailed'), 'read scale set', vm); })).toMatchObject({
      ok: false,
      error: { code: 'AuthorizationFailed', retryable: false },
    });
    expect(stepFailure(new KilnStepError('bad', { retryable: false }))).toEqual({ code: 'Failed', message: 'bad', retryable: false });
  });
});
