/**
 * Rollouts onto the fleets of local/environment.json (emulator profile `zero`): a Uniform Manual scale set on a
 * marketplace image rolls back to exactly that image when an upgraded instance turns unhealthy; then one bake rolls
 * six scale sets at once — marketplace, Flexible, Rolling, Automatic, automatic OS image upgrade on the definition,
 * and one that autoscale shrinks and grows mid-rollout — and each ends with every member on the new version, with
 * the path it followed in the run record.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AzureClients } from '../../src/azure/clients.ts';
import { listMembers, type OrchestrationMode, type ScaleSetImage } from '../../src/azure/scaleSets.ts';
import { azureClients, properties } from './bake-support.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

const MARKETPLACE: ScaleSetImage = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };

const scaleSetId = (name: string) => `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/fleet-prod/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;

/** Every member of a fleet scale set with the image it runs (model reference + exact version). */
async function members(name: string, mode: OrchestrationMode = 'Uniform') {
  const clients = azureClients(env.local) as unknown as AzureClients;
  return (await listMembers(clients, scaleSetId(name), mode)).map((m) => ({ id: m.instanceId, ...m.running }));
}

async function modelImage(name: string) {
  const scaleSet = await azureClients(env.local).compute.virtualMachineScaleSets.get('fleet-prod', name);
  return scaleSet.virtualMachineProfile!.storageProfile!.imageReference!;
}

describe('rollouts onto every kind of fleet on the local default', () => {
  it('rolls a marketplace-image scale set back to exactly its marketplace image when an upgraded instance turns unhealthy', async () => {
    const template = await exampleTemplate('ubuntu-fleet', env.local);
    const props = properties(template);
    props.rollout = (props.rollout as { scaleSetId: string }[]).filter((t) => t.scaleSetId.endsWith('/fleet-market'));
    env.local.emulator.faults.set([{ match: { pathContains: 'fleet-market' }, kind: 'unhealthy', count: 1 }]);
    const { id } = await env.client.startBake(template);
    const run = await waitForEnd(env.client, id);
    env.local.emulator.faults.clear();
    expect(run.status, describeRun(run)).toBe('Failed');
    expect(run.error).toMatchObject({ step: 'rollout', code: 'RolledBack' });
    expect(run.error!.message).toContain('rolled back to Canonical:ubuntu-24_04-lts:server:latest');
    expect(run.outputs.scaleSets).toEqual([{ id: scaleSetId('fleet-market'), status: 'RolledBack', updated: 0, total: 2, path: 'batches' }]);
    expect(await modelImage('fleet-market')).toMatchObject(MARKETPLACE);
    expect((await modelImage('fleet-market')).id).toBeUndefined();
    const after = await members('fleet-market');
    expect(after).toHaveLength(2);
    for (const member of after) expect(member.image).toEqual(MARKETPLACE);
  });

  it('rolls Flexible, Rolling, Automatic, automatic-OS-upgrade, marketplace and autoscaled scale sets in one bake', async () => {
    // Autoscale removes an instance during the first batch's upgrade and adds one (on the new model) during the second.
    env.local.emulator.faults.set([
      { match: { operation: 'virtualMachineScaleSets.updateInstances', pathContains: 'fleet-elastic' }, kind: 'scaleIn', count: 1 },
      { match: { operation: 'virtualMachineScaleSets.updateInstances', pathContains: 'fleet-elastic' }, kind: 'scaleOut', count: 1 },
    ]);
    const { id } = await env.client.startBake(await exampleTemplate('ubuntu-fleet', env.local));
    const run = await waitForEnd(env.client, id);
    expect(env.local.emulator.faults.list().map((f) => f.fired)).toEqual([1, 1]);
    env.local.emulator.faults.clear();
    expect(run.status, describeRun(run)).toBe('Succeeded');
    // The plan says which path each scale set will follow.
    const plan = run.steps.find((s) => s.name === 'plan')!.message!;
    expect(plan).toContain("rollout fleet-flex (Flexible, upgradePolicy Manual): Kiln's batches and health gate");
    expect(plan).toContain("rollout fleet-rolling (Uniform, upgradePolicy Rolling): Azure's rolling upgrade");
    expect(plan).toContain('rollout fleet-aos (Uniform, upgradePolicy Rolling): automatic OS image upgrade: promoting the version starts');
    const version = run.outputs.imageVersionId!;
    const definition = version.split('/versions/')[0]!;

    const outcome = Object.fromEntries(run.outputs.scaleSets.map((s) => [s.id.split('/').at(-1)!, s]));
    expect(outcome).toMatchObject({
      'fleet-market': { status: 'Succeeded', path: 'batches', updated: 2, total: 2 },
      'fleet-flex': { status: 'Succeeded', path: 'batches', updated: 2, total: 2 },
      'fleet-rolling': { status: 'Succeeded', path: 'rolling', updated: 2, total: 2 },
      'fleet-auto': { status: 'Succeeded', path: 'automatic', updated: 2, total: 2 },
      'fleet-aos': { status: 'Succeeded', path: 'automaticOSUpgrade', updated: 2, total: 2 },
      'fleet-elastic': { status: 'Succeeded', path: 'batches', updated: 3, total: 3 },
    });

    for (const name of ['fleet-market', 'fleet-rolling', 'fleet-auto', 'fleet-elastic']) {
      for (const member of await members(name)) expect(member, `${name} ${member.id}`).toMatchObject({ image: { id: version } });
    }
    const flexible = await members('fleet-flex', 'Flexible');
    expect(flexible).toHaveLength(2);
    for (const member of flexible) {
      expect(member.id).toMatch(/^fleet-flex_[0-9a-f]{8}$/);
      expect(member).toMatchObject({ image: { id: version } });
    }
    // The definition reference stays: the members resolved it to the promoted version.
    expect((await modelImage('fleet-aos')).id).toBe(definition);
    for (const member of await members('fleet-aos')) expect(member).toMatchObject({ image: { id: definition }, exactVersion: version.split('/').at(-1) });
    // Autoscale took instance 2 and added 3 (made from the new model, checked by the health gate).
    expect((await members('fleet-elastic')).map((m) => m.id)).toEqual(['0', '1', '3']);
  });
});
