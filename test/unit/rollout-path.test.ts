// Which path a rollout takes (the scale set's upgrade policy, automatic OS upgrades, the template's opt-out), and
// the plan's notes about it, including the warning for a scale set with no health source.
import { describe, expect, it } from 'vitest';
import type { VirtualMachineScaleSet } from '@azure/arm-compute';
import { PlanReads } from '../../src/activities/plan-reads.ts';
import { readRolloutTargets, rolloutNotes } from '../../src/activities/rollout-preflight.ts';
import type { AzureClients } from '../../src/azure/clients.ts';
import { chooseRolloutPath } from '../../src/pipeline/rollout-path.ts';
import type { RolloutTarget } from '../../src/template/spec.ts';

const DEFINITION = '/subscriptions/s/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/g/images/web';
const VERSION = `${DEFINITION}/versions/1.0.1`;
const MARKETPLACE = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };

describe('chooseRolloutPath', () => {
  const auto = { mode: 'auto' } as const;
  it('follows the upgrade policy: Manual → batches, Rolling → rolling, Automatic → automatic', () => {
    expect(chooseRolloutPath({ image: MARKETPLACE, upgradeMode: 'Manual', automaticOSUpgrade: false }, auto, VERSION)).toBe('batches');
    expect(chooseRolloutPath({ image: { id: `${DEFINITION}/versions/1.0.0` }, upgradeMode: 'Rolling', automaticOSUpgrade: false }, auto, VERSION)).toBe('rolling');
    expect(chooseRolloutPath({ image: { id: `${DEFINITION}/versions/1.0.0` }, upgradeMode: 'Automatic', automaticOSUpgrade: false }, auto, VERSION)).toBe('automatic');
  });

  it("takes Kiln's batches when the template says mode batches", () => {
    expect(chooseRolloutPath({ image: { id: `${DEFINITION}/versions/1.0.0` }, upgradeMode: 'Rolling', automaticOSUpgrade: false }, { mode: 'batches' }, VERSION)).toBe('batches');
  });

  it('watches the automatic OS upgrade only when the model names the definition of the promoted version', () => {
    const onDefinition = { image: { id: DEFINITION.toUpperCase() }, upgradeMode: 'Rolling', automaticOSUpgrade: true } as const;
    expect(chooseRolloutPath(onDefinition, { mode: 'batches' }, VERSION)).toBe('automaticOSUpgrade');
    expect(chooseRolloutPath({ ...onDefinition, image: { id: `${DEFINITION}/versions/1.0.0` } }, auto, VERSION)).toBe('rolling');
    expect(chooseRolloutPath({ ...onDefinition, image: { id: `${DEFINITION}2` } }, auto, VERSION)).toBe('rolling');
  });
});

describe('rolloutNotes', () => {
  const target = (name: string): RolloutTarget => ({
    scaleSetId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`,
    subscriptionId: 's', resourceGroup: 'rg', scaleSetName: name, batchPercent: 20, maxUnhealthyPercent: 20,
    pauseBetweenBatches: { iso: 'PT0S', ms: 0 }, rollbackOnFailure: true, mode: 'auto',
  });
  const clients = (sets: Record<string, VirtualMachineScaleSet>) =>
    new PlanReads({
      compute: {
        virtualMachineScaleSets: {
          get: async (_rg: string, name: string) => {
            if (sets[name]) return sets[name];
            throw Object.assign(new Error(`scale set ${name} not found`), { statusCode: 404, code: 'ResourceNotFound' });
          },
        },
      },
    } as unknown as AzureClients);

  it('names each path and warns about a scale set with neither health extension nor probe, and one it cannot read', async () => {
    const reads = await readRolloutTargets(
      clients({
        blind: { location: 'eastus', upgradePolicy: { mode: 'Manual' }, virtualMachineProfile: { storageProfile: { imageReference: MARKETPLACE } } },
        aos: {
          location: 'eastus', orchestrationMode: 'Flexible',
          upgradePolicy: { mode: 'Rolling', automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true } },
          virtualMachineProfile: {
            storageProfile: { imageReference: { id: DEFINITION } },
            extensionProfile: { extensions: [{ name: 'health', typePropertiesType: 'ApplicationHealthLinux' }] },
          },
        },
      }),
      [target('blind'), target('aos'), target('gone')],
    );
    const notes = rolloutNotes(reads, VERSION);
    expect(notes[0]).toBe("rollout blind (Uniform, upgradePolicy Manual): Kiln's batches and health gate");
    expect(notes[1]).toMatch(/^warning NoHealthSource: scale set blind has neither an Application Health extension nor a load balancer probe/);
    expect(notes[2]).toBe("rollout aos (Flexible, upgradePolicy Rolling): automatic OS image upgrade: promoting the version starts Azure's upgrade; Kiln watches it");
    expect(notes[3]).toMatch(/^warning ScaleSetUnreadable: rollout target gone: .*not found/);
    expect(notes).toHaveLength(4);
  });

  it('reads every target at once and keeps the notes in target order, whichever read answers first', async () => {
    let inFlight = 0;
    let most = 0;
    const answers: (() => void)[] = [];
    const slow = {
      compute: {
        virtualMachineScaleSets: {
          get: async (_rg: string, name: string): Promise<VirtualMachineScaleSet> => {
            most = Math.max(most, ++inFlight);
            await new Promise<void>((resolve) => answers.push(resolve));
            inFlight--;
            return { location: 'eastus', upgradePolicy: { mode: name === 'a' ? 'Manual' : 'Automatic' }, virtualMachineProfile: { storageProfile: { imageReference: MARKETPLACE } } };
          },
        },
      },
    } as unknown as AzureClients;
    const reading = readRolloutTargets(new PlanReads(slow), [target('a'), target('b'), target('c')]);
    await new Promise((resolve) => setImmediate(resolve));
    // Answer the last read first: the notes still follow the template's order.
    for (const answer of answers.reverse()) answer();
    const notes = rolloutNotes(await reading, VERSION).filter((n) => n.startsWith('rollout '));
    expect(most).toBe(3);
    expect(notes.map((n) => n.split(' ')[1])).toEqual(['a', 'b', 'c']);
  });
});
