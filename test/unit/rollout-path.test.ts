// Which path a rollout takes (the scale set's upgrade policy, automatic OS upgrades, the template's opt-out), and
// the plan's notes about it, including the warning for a scale set with no health source.
import { describe, expect, it } from 'vitest';
import type { VirtualMachineScaleSet } from '@azure/arm-compute';
import { rolloutNotes } from '../../src/activities/rollout-preflight.ts';
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
    ({
      compute: {
        virtualMachineScaleSets: {
          get: async (_rg: string, name: string) => {
            if (sets[name]) return sets[name];
            throw Object.assign(new Error(`scale set ${name} not found`), { statusCode: 404, code: 'ResourceNotFound' });
          },
        },
      },
    }) as unknown as AzureClients;

  it('names each path and warns about a scale set with neither health extension nor probe, and one it cannot read', async () => {
    const notes = await rolloutNotes(
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
      VERSION,
    );
    expect(notes[0]).toBe("rollout blind (Uniform, upgradePolicy Manual): Kiln's batches and health gate");
    expect(notes[1]).toMatch(/^warning NoHealthSource: scale set blind has neither an Application Health extension nor a load balancer probe/);
    expect(notes[2]).toBe("rollout aos (Flexible, upgradePolicy Rolling): automatic OS image upgrade: promoting the version starts Azure's upgrade; Kiln watches it");
    expect(notes[3]).toMatch(/^warning ScaleSetUnreadable: rollout target gone: .*not found/);
    expect(notes).toHaveLength(4);
  });
});
