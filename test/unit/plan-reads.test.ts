// PlanReads: preflight and the plan ask for the same definitions and scale sets at once; Azure is asked once each.
import { describe, expect, it } from 'vitest';
import { PlanReads } from '../../src/activities/plan-reads.ts';
import type { AzureClients } from '../../src/azure/clients.ts';

const definition = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web';
const scaleSet = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web';

function counting() {
  const asked: string[] = [];
  const clients = {
    subscriptionId: 's',
    compute: {
      galleryImages: { get: async (_rg: string, _g: string, image: string) => (asked.push(`definition ${image}`), { name: image, osType: 'Linux' }) },
      virtualMachineScaleSets: {
        get: async (_rg: string, name: string) => {
          asked.push(`scale set ${name}`);
          throw Object.assign(new Error(`scale set ${name} not found`), { statusCode: 404, code: 'ResourceNotFound' });
        },
      },
    },
  } as unknown as AzureClients;
  return { asked, reads: new PlanReads(clients) };
}

describe('PlanReads', () => {
  it('reads a definition once however often and however spelled it is asked for, and answers each asker', async () => {
    const { asked, reads } = counting();
    const answers = await Promise.all([reads.imageDefinition(definition), reads.imageDefinition(definition.toUpperCase().replace('/SUBSCRIPTIONS/S', '/subscriptions/s')), reads.imageDefinition(definition)]);
    expect(asked).toEqual(['definition web']);
    expect(answers.map((a) => a?.name)).toEqual(['web', 'web', 'web']);
  });

  it('gives every asker the same failure from one read', async () => {
    const { asked, reads } = counting();
    const results = await Promise.allSettled([reads.scaleSet(scaleSet), reads.scaleSet(scaleSet)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(asked).toEqual(['scale set web']);
  });
});
