// The wait after a WindowsRestart, against a scripted ARM (the local emulator runs Linux guests only): checks that
// ran before the reboot or while the VM was down are replaced, and the step ends when a newer boot is reported.
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import type { OperationStatus } from '../../src/activities/contracts.ts';
import type { RunCommandRef } from '../../src/activities/customize.ts';
import type { ActivityEnvironment } from '../../src/activities/environment.ts';
import { pollWindowsRestart, restartWait, type RestartWaitRef } from '../../src/activities/windows-restart.ts';
import { createAzureClients } from '../../src/azure/clients.ts';
import { loadConfig } from '../../src/config.ts';
import type { RunStore } from '../../src/runs/store.ts';

type View = { executionState: string; exitCode?: number; output?: string };

/** A fake ARM: Run Command GETs answer from `views` (404 when absent); PUT and DELETE complete at once. */
function fakeArm(views: Map<string, View[]>) {
  const calls: string[] = [];
  const httpClient: HttpClient = {
    async sendRequest(request: PipelineRequest) {
      const name = new URL(request.url).pathname.split('/').at(-1)!;
      calls.push(`${request.method} ${name}`);
      const reply = (status: number, body?: unknown) => ({ request, status, headers: createHttpHeaders({ 'content-type': 'application/json' }), bodyAsText: body === undefined ? '' : JSON.stringify(body) });
      if (request.method === 'PUT') {
        views.set(name, [{ executionState: 'Pending' }]);
        return reply(200, { name, location: 'eastus', properties: { provisioningState: 'Succeeded' } });
      }
      if (request.method === 'DELETE') {
        views.delete(name);
        return reply(200);
      }
      const queue = views.get(name);
      if (!queue) return reply(404, { error: { code: 'NotFound', message: `run command ${name} not found` } });
      const view = queue.length > 1 ? queue.shift()! : queue[0]!;
      return reply(200, { name, location: 'eastus', properties: { provisioningState: 'Succeeded', instanceView: view } });
    },
  };
  return { httpClient, calls };
}

function environment(httpClient: HttpClient, log: string[]): ActivityEnvironment {
  const config = loadConfig({
    KILN_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
    KILN_ARM_ENDPOINT: 'https://arm.example.test',
    KILN_STATIC_TOKEN: 'token',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  });
  const store = { appendLog: async (_id: string, _step: string, text: string) => void log.push(text) } as unknown as RunStore;
  return { config, clients: createAzureClients(config, { httpClient }), runStore: async () => store };
}

const restartRef: RunCommandRef = {
  kind: 'run-command',
  resourceId: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/runCommands/kiln-customize-02',
  runId: 'win-20261125T131900Z-0001',
  resourceGroup: 'rg',
  vm: 'vm',
  name: 'kiln-customize-02',
  phase: 'customize',
  step: 'restart',
  stepType: 'WindowsRestart',
  location: 'eastus',
  validExitCodes: [0],
  secretRefs: {},
  restartCheck: 'Test-Path C:\\ready',
};

async function pollUntilSettled(env: ActivityEnvironment, ref: RestartWaitRef, views: Map<string, View[]>, script: (check: string) => View[]): Promise<OperationStatus> {
  let status: OperationStatus = { state: 'InProgress', operation: ref };
  let wait = ref;
  for (let i = 0; i < 20 && status.state === 'InProgress'; i++) {
    const check = `kiln-customize-02-check-${wait.check}`;
    const created = views.has(check);
    status = await pollWindowsRestart(env, wait);
    if (status.state === 'InProgress') {
      if (status.operation.kind !== 'windows-restart') throw new Error(`a restart wait went on as ${status.operation.kind}`);
      wait = status.operation;
    }
    if (!created && views.has(check)) views.set(check, script(check));
  }
  return status;
}

describe('WindowsRestart wait', () => {
  it('replaces checks that ran before the reboot or failed while the VM was down, and ends at a newer boot', async () => {
    const views = new Map<string, View[]>();
    const { httpClient, calls } = fakeArm(views);
    const log: string[] = [];
    const script = (check: string): View[] =>
      ({
        'kiln-customize-02-check-0': [{ executionState: 'Running' }, { executionState: 'Succeeded', exitCode: 0, output: 'kiln-boot:2026-11-25T13:00:00Z\n' }],
        'kiln-customize-02-check-1': [{ executionState: 'Failed', output: '' }],
      })[check] ?? [{ executionState: 'Succeeded', exitCode: 0, output: 'kiln-boot:2026-11-25T13:05:00Z\nTrue\n' }];
    const status = await pollUntilSettled(environment(httpClient, log), restartWait(restartRef, '2026-11-25T13:00:00Z'), views, script);
    expect(status).toEqual({ state: 'Succeeded' });
    expect(calls.filter((c) => !c.startsWith('GET'))).toEqual([
      'PUT kiln-customize-02-check-0',
      'DELETE kiln-customize-02-check-0',
      'PUT kiln-customize-02-check-1',
      'DELETE kiln-customize-02-check-1',
      'PUT kiln-customize-02-check-2',
    ]);
    expect(log.join('')).toContain('restarted (boot 2026-11-25T13:00:00Z → 2026-11-25T13:05:00Z)');
  });

  it('fails the step when the restartCheckCommand fails after the new boot', async () => {
    const views = new Map<string, View[]>();
    const { httpClient } = fakeArm(views);
    const status = await pollUntilSettled(environment(httpClient, []), restartWait(restartRef, '2026-11-25T13:00:00Z'), views, () => [
      { executionState: 'Failed', exitCode: 1, output: 'kiln-boot:2026-11-25T13:05:00Z\nFalse\n' },
    ]);
    expect(status).toMatchObject({ state: 'Failed', error: { code: 'ScriptFailed', exitCode: 1, lastLines: ['kiln-boot:2026-11-25T13:05:00Z', 'False'] } });
  });
});
