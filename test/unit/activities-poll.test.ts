// pollOperation's dispatch: a ref it cannot read fails the step clearly (before any Azure call), and the table of
// pollers is complete by type (the @ts-expect-error lines fail the typecheck if a missing poller compiled).
import { describe, expect, it } from 'vitest';
import type { OperationKind, OperationRef } from '../../src/activities/contracts.ts';
import { customizePollers } from '../../src/activities/customize.ts';
import { pollOperation, type Pollers } from '../../src/activities/poll.ts';
import { restartWait } from '../../src/activities/windows-restart.ts';
import type { RunCommandRef } from '../../src/activities/customize.ts';

const command: RunCommandRef = {
  kind: 'run-command',
  resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/runCommands/kiln-customize-00',
  runId: 'poll-20261206T120000Z-0001',
  resourceGroup: 'rg',
  vm: 'vm',
  name: 'kiln-customize-00',
  phase: 'customize',
  step: 'restart',
  stepType: 'WindowsRestart',
  location: 'eastus',
  validExitCodes: [0],
  secretRefs: { token: { vault: 'kv', name: 'token' } },
  restartCheck: null,
  liveOutput: { stdout: 8, stderr: 0, log: 40 },
};

describe('pollOperation dispatch', () => {
  it('fails an operation kind no poller knows with UnknownOperation, naming the kind', async () => {
    const ref = { kind: 'fake', resourceId: 'r' } as unknown as OperationRef;
    expect(await pollOperation(ref)).toEqual({
      state: 'Failed',
      error: { code: 'UnknownOperation', message: expect.stringContaining('"fake"'), retryable: false, resourceId: 'r' },
    });
  });

  it('fails a ref in the old data-bag shape instead of polling it with missing fields', async () => {
    const old = { kind: 'run-command', resourceId: command.resourceId, data: { runId: command.runId, validExitCodes: '[0]' } } as unknown as OperationRef;
    expect(await pollOperation(old)).toMatchObject({ state: 'Failed', error: { code: 'UnknownOperation', resourceId: command.resourceId } });
  });

  it('types the table so that a kind without a poller does not compile', () => {
    // @ts-expect-error every kind but run-command is missing
    const incomplete: Pollers<OperationKind> = { ...customizePollers };
    // @ts-expect-error a poller is typed by the ref of its own kind
    const mismatched: Pollers<'vm-stopped'> = { 'vm-stopped': customizePollers['run-command'] };
    expect([incomplete, mismatched].every(Boolean)).toBe(true);
  });
});

describe('operation refs', () => {
  it('are plain JSON: a restart wait survives the round trip through history unchanged, typed fields and all', () => {
    const wait = restartWait(command, '2026-12-06T12:00:00Z');
    expect(JSON.parse(JSON.stringify(wait))).toEqual(wait);
    expect(wait).toMatchObject({ kind: 'windows-restart', check: 0, validExitCodes: [0], secretRefs: { token: { vault: 'kv', name: 'token' } } });
    // The wait is not a Run Command's output: it carries no output cursor.
    expect(wait).not.toHaveProperty('liveOutput');
  });
});
