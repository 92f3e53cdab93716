import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { stepFailure, operationStatus, outcome } from '../../src/activities/outcomes.ts';
import { azureError, classifyAzureError, KilnStepError, PERMANENT_ERROR, quotaRefusal, TRANSIENT_ERROR } from '../../src/azure/errors.ts';
import { describeQuotaWait, quotaRetryDelay } from '../../src/pipeline/quota-wait.ts';

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

describe('quota refusals', () => {
  const refused =
    'Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 50, Current Usage: 50, Additional Required: 2, (Minimum) New Limit Required: 52.';

  it("reads Compute's 409 OperationNotAllowed quota refusal, through the adapter's wrapping, into a step failure with its figures", () => {
    const expected = { what: 'standardDSv3Family Cores', location: 'eastus', limit: 50, used: 50, required: 2 };
    expect(quotaRefusal('OperationNotAllowed', 409, refused)).toEqual(expected);
    const failure = stepFailure(azureError(rest(409, 'OperationNotAllowed', refused), 'create', vm));
    expect(failure).toMatchObject({ code: 'OperationNotAllowed', retryable: false, quota: expected });
    expect(stepFailure(rest(409, 'QuotaExceeded', 'Quota exceeded')).quota).toEqual({});
  });

  it('leaves other refusals alone: OperationNotAllowed without a quota, and other codes', () => {
    expect(quotaRefusal('OperationNotAllowed', 409, 'The operation is not allowed while the VM is deallocated.')).toBeUndefined();
    expect(quotaRefusal('InvalidParameter', 400, refused)).toBeUndefined();
    expect(stepFailure(rest(409, 'OperationNotAllowed', 'Operation not allowed on a generalized VM.')).quota).toBeUndefined();
  });

  it('backs off 15 s doubling to 2 min and says what it waits for', () => {
    expect([0, 1, 2, 3, 4, 9].map(quotaRetryDelay)).toEqual([15_000, 30_000, 60_000, 120_000, 120_000, 120_000]);
    expect(describeQuotaWait(quotaRefusal('OperationNotAllowed', 409, refused)!, 30_000, 3)).toBe(
      'waiting for vCPU quota in eastus: standardDSv3Family Cores 50/50 used, 2 required; 3 bakes ahead; woken when a Kiln bake frees its build VM, next try in 30 s at the latest',
    );
    expect(describeQuotaWait(quotaRefusal('OperationNotAllowed', 409, refused)!, 15_000, 0)).toContain('2 required; first in line; woken');
  });
});
