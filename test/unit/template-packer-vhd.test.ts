/** Packer's VHD output (storage_account, resource_group_name, capture_container_name, capture_name_prefix) converted to Kiln's VHD distribution. */

import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../../src/template/index.ts';
import { convertPacker, localFiles, readPackerFiles, type PackerConversion } from '../../src/template/packer/index.ts';

const FIXTURES = 'test/fixtures/packer';
const SUB = '00000000-0000-0000-0000-000000000000';
const NOW = new Date('2026-03-04T05:06:07.089Z');

async function convertPath(path: string, vars: Record<string, string> = {}): Promise<PackerConversion> {
  const { input, templateDir, name } = await readPackerFiles(path);
  return convertPacker({ ...input, vars }, { subscriptionId: SUB, name, localFiles: localFiles(templateDir), now: NOW, env: {} });
}

function ok(result: PackerConversion): Extract<PackerConversion, { ok: true }> {
  if (!result.ok) throw new Error(`expected a conversion, got ${JSON.stringify(result.errors)}`);
  return result;
}

/** A JSON template with a marketplace source and the given output fields. */
function withOutput(output: Record<string, unknown>): Promise<PackerConversion> {
  const text = JSON.stringify({
    builders: [{ type: 'azure-arm', image_publisher: 'Canonical', image_offer: 'ubuntu-24_04-lts', image_sku: 'server', location: 'eastus', ...output }],
  }, null, 2);
  return convertPacker({ files: [{ path: 't.json', text }], vars: {} }, { subscriptionId: SUB, now: NOW, env: {} });
}

describe('Packer VHD output', () => {
  it('converts a JSON template with a managed image and a VHD: both distributions, the VHD where Packer puts it, named by the conversion time', async () => {
    const result = ok(await convertPath(`${FIXTURES}/vhd-and-image.json`));
    expect((result.template.properties as Record<string, unknown>).distribute).toEqual([
      { type: 'ManagedImage', imageId: `/subscriptions/${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/images/vhd-twin`, location: 'eastus', runOutputName: 'vhd-twin' },
      { type: 'VHD', uri: 'https://devstoreaccount1.blob.core.windows.net/packer-vhds/webpkros20260304T050607089Z.vhd', runOutputName: 'web-vhd' },
    ]);
    expect(parseTemplate(result.template).ok).toBe(true);
    expect(result.notes).toContainEqual({
      kind: 'mapped', at: `${FIXTURES}/vhd-and-image.json:18`, what: 'storage_account',
      message: expect.stringMatching(/^distribute VHD https:\/\/devstoreaccount1\.blob\.core\.windows\.net\/packer-vhds\/webpkros20260304T050607089Z\.vhd: .*conversion time.*retries write the same blob.*new for every bake/),
    });
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'ignored', what: 'resource_group_name', at: `${FIXTURES}/vhd-and-image.json:17` }));
    // A user variable names the account; another value gives another blob endpoint.
    const other = ok(await convertPath(`${FIXTURES}/vhd-and-image.json`, { storage_account: 'imagesprod01' }));
    expect(JSON.stringify(other.template)).toContain('"uri":"https://imagesprod01.blob.core.windows.net/packer-vhds/webpkros20260304T050607089Z.vhd"');
  });

  it('converts an HCL2 template whose only output is a VHD', async () => {
    const result = ok(await convertPath(`${FIXTURES}/vhd-only.pkr.hcl`));
    expect(result.template).toMatchObject({ name: 'vhd-only', location: 'eastus' });
    expect(result.template.properties).toMatchObject({
      distribute: [{ type: 'VHD', uri: 'https://devstoreaccount1.blob.core.windows.net/images/edgepkros20260304T050607089Z.vhd', runOutputName: 'edge-vhd' }],
      customize: [{ type: 'Shell', inline: ['mkdir -p /var/www/html', "echo 'Served from a Packer VHD' > /var/www/html/index.html"] }],
    });
    expect(parseTemplate(result.template).ok).toBe(true);
    // Another conversion time, another blob: every bake gets its own VHD.
    const later = await convertPacker({ ...(await readPackerFiles(`${FIXTURES}/vhd-only.pkr.hcl`)).input, vars: {} }, { subscriptionId: SUB, now: new Date('2026-03-04T05:06:08Z'), env: {} });
    expect(JSON.stringify(ok(later).template)).toContain('/images/edgepkros20260304T050608000Z.vhd');
  });

  it('refuses an incomplete or invalid VHD output by name, at the field', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ storage_account: 'acct01', capture_container_name: 'images' }, 'MissingField', /storage_account and resource_group_name go together/],
      [{ resource_group_name: 'rg', capture_container_name: 'images' }, 'MissingField', /needs storage_account/],
      [{ storage_account: 'acct01', resource_group_name: 'rg' }, 'MissingField', /needs capture_container_name/],
      [{ storage_account: 'Acct_01', resource_group_name: 'rg', capture_container_name: 'images' }, 'InvalidField', /storage_account must be a storage account name .*"Acct_01"/],
      [{ storage_account: 'acct01', resource_group_name: 'rg', capture_container_name: 'my--images' }, 'InvalidField', /capture_container_name must match/],
      [{ storage_account: 'acct01', resource_group_name: 'rg', capture_container_name: 'Images' }, 'InvalidField', /capture_container_name must match/],
      [{}, 'MissingField', /needs an output: .*storage_account \+ capture_container_name \(VHD\)/],
    ];
    for (const [output, code, message] of cases) {
      const result = await withOutput(output);
      expect(result.ok, JSON.stringify(output)).toBe(false);
      if (!result.ok) expect(result.errors[0], JSON.stringify(output)).toMatchObject({ code, at: expect.stringMatching(/^t\.json/), message: expect.stringMatching(message) });
    }
  });
});
