/**
 * A bake under the least privilege infra deploys, not the emulator's default "everything": the roles of
 * infra/permissions.json's assignments, at the local subscription's scopes the example touches, become the
 * emulator's grants. Every request (and every linked check: subnet, NIC and NSG joins, the image read) is held to
 * them, so a call Kiln makes without a role for it fails this bake as it would fail on Azure.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureClients } from './bake-support.ts';
import { describeRun, exampleTemplate, repo, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

interface Permissions {
  builtInRoles: Record<string, { actions: string[] }>;
  customRoles: Record<string, { actions: string[] }>;
  assignments: { role: string; scope: string }[];
}

const SUBSCRIPTION = '/subscriptions/00000000-0000-0000-0000-000000000000';
const SCALE_SET = `${SUBSCRIPTION}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss`;

/** Where infra's scopes are for the ubuntu-web example on the seed (staging at the subscription, infra's default). */
const SCOPES: Record<string, string[]> = {
  subscription: [SUBSCRIPTION],
  staging: [SUBSCRIPTION],
  gallery: [`${SUBSCRIPTION}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery`],
  scaleSet: [SCALE_SET],
  scaleSetGroup: [`${SUBSCRIPTION}/resourceGroups/web-prod`],
  // The seed's scale sets join no network; the example names no identity.
  scaleSetNetwork: [],
  buildIdentity: [],
};

let env: TestDefault;
let dir: string;

beforeAll(async () => {
  const permissions = JSON.parse(await readFile(join(repo, 'infra/permissions.json'), 'utf8')) as Permissions;
  const grants = permissions.assignments.flatMap(({ role, scope }) => {
    const actions = role.startsWith('custom:') ? permissions.customRoles[role.slice('custom:'.length)]?.actions : permissions.builtInRoles[role]?.actions;
    if (!actions) throw new Error(`infra/permissions.json: assignment of unknown role ${role}`);
    const where = SCOPES[scope];
    if (!where) throw new Error(`infra/permissions.json: scope ${scope} has no place in this test`);
    return where.map((at) => ({ scope: at, actions }));
  });
  const seed = JSON.parse(await readFile(join(repo, 'local/environment.json'), 'utf8')) as Record<string, unknown>;
  dir = await mkdtemp(join(tmpdir(), 'kiln-least-privilege-'));
  await writeFile(join(dir, 'environment.json'), JSON.stringify({ ...seed, permissions: grants }));
  env = await startTestDefault({ seedFile: join(dir, 'environment.json') });
});

afterAll(async () => {
  await env?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a bake under the roles infra assigns', () => {
  it('bakes ubuntu-web end to end, and the grants really are narrowed', async () => {
    const { id } = await env.client.startBake(await exampleTemplate('ubuntu-web', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run.outputs.scaleSets[0]).toMatchObject({ status: 'Succeeded', updated: 3, total: 3 });
    expect(run.staging).toMatchObject({ state: 'Deleted' });

    // Not everything: a gallery of Kiln's own making is out of reach (ARM's 403, through the real SDK client).
    const refused = await azureClients(env.local).compute.galleries.beginCreateOrUpdate('web-prod', 'notKilns', { location: 'eastus' }).then(() => undefined, (error: { statusCode?: number; code?: string }) => error);
    expect(refused).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });
});
