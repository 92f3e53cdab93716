/**
 * A Functions host killed (SIGKILL) in the middle of a bake and started again on the same KILN_HOME carries the
 * bake on from its last committed step: it succeeds, with exactly one new image version.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageVersions, properties } from './bake-support.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, waitForStepRunning, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault({ hostInProcess: false });
});

afterAll(async () => {
  await env?.close();
});

describe('host killed mid-bake', () => {
  it('restarts and finishes the bake, with exactly one image version', async () => {
    const before = await imageVersions(env.local, 'ubuntu-web');
    const template = await exampleTemplate('ubuntu-web', env.local);
    const props = properties(template);
    // A customizer that takes a moment, so the kill lands while a Run Command is running.
    props.customize = [{ type: 'Shell', name: 'slow', inline: ['sleep 2', 'echo slept'] }, ...(props.customize as unknown[])];
    const { id } = await env.client.startBake(template);

    await waitForStepRunning(env.client, id, 'customize');
    await env.local.stopHost({ kill: true });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await env.local.restartHost();

    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(await imageVersions(env.local, 'ubuntu-web')).toEqual([...before, run.outputs.version].sort());
    expect(run.steps.filter((s) => s.status === 'Succeeded').map((s) => s.name)).toContain('customize');
  });
});
