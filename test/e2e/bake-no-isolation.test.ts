/**
 * The example bake where the emulator cannot run scripts (isolation forced off): a customizer whose first line is
 * `exit 3` is reported as not run, never as a success; every step whose scripts did not run is Simulated, and the
 * record, the log and the CLI's final lines name each simulated step. (Where isolation works, the same customizer
 * fails the bake: test/e2e/bake-failures.test.ts.)
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bakeExitCode } from '../../cli/progress.ts';
import { properties } from './bake-support.ts';
import { describeRun, exampleTemplate, runKiln, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault({ isolation: 'off' });
});

afterAll(async () => {
  await env?.close();
});

describe('a bake whose scripts cannot run', () => {
  it('says which steps were simulated in the record, the log and the CLI, and calls none of them Succeeded', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    const props = properties(template);
    props.customize = [{ type: 'Shell', name: 'must-fail', inline: ['exit 3'] }, ...(props.customize as unknown[])];
    const { id } = await env.client.startBake(template);
    const run = await waitForEnd(env.client, id);

    // The image is made (nothing says it is bad), but the run is not a clean success.
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(bakeExitCode(run)).toBe(2);
    const status = Object.fromEntries(run.steps.map((s) => [s.name, s.status]));
    expect(status).toMatchObject({ customize: 'Simulated', validate: 'Simulated', generalize: 'Simulated', capture: 'Succeeded' });
    expect(run.steps.find((s) => s.name === 'customize')!.message).toContain("customizer 1 'must-fail' (Shell)");
    expect(run.simulatedSteps?.map((s) => `${s.step}: ${s.operation}`)).toEqual([
      "customize: customizer 1 'must-fail' (Shell)",
      "customize: customizer 2 'web-content' (Shell)",
      "customize: customizer 3 'robots' (File)",
      "validate: validation 1 'web-content-present' (Shell)",
      // The deprovision was applied to the disk from the host, its script not run.
      expect.stringMatching(/^generalize: waagent deprovision of \S+ \(detached\), until the VM is stopped$/),
    ]);
    expect(run.simulatedSteps?.every((s) => /isolation is turned off/.test(s.reason))).toBe(true);

    const logs = (await env.client.getLogs(id)).logs.map((l) => l.text).join('\n');
    expect(logs).toContain('== customize must-fail NOT RUN (simulated:');
    expect(logs).toContain('== validate web-content-present NOT RUN (simulated:');
    expect(logs).not.toMatch(/must-fail succeeded|web-content-present succeeded/);

    const cli = await runKiln(['status', id, '--endpoint', env.local.functionsUrl, '--key', env.local.apiKey]);
    expect(cli.code, cli.stderr).toBe(0);
    const lines = cli.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${id}: Succeeded with 5 simulated steps`);
    expect(lines).toContain('5 steps were simulated, not run (nothing proves they would succeed):');
    expect(lines.some((l) => l.startsWith("  customize: customizer 1 'must-fail' (Shell): "))).toBe(true);
  });
});
