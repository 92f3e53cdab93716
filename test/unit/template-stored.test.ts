/** Templates as files in container `templates`: which blob names are what, and how a template loads with the values beside it. */

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isTemplateName, loadTemplateFiles, templateFileRole, utf8Text } from '../../src/template/stored.ts';

const SUB = '00000000-0000-0000-0000-000000000000';
const hcl = await readFile('test/fixtures/packer/drop/web-drop.pkr.hcl', 'utf8');
const arm = await readFile('test/fixtures/templates/arm/sig-deployment.json', 'utf8');
const armParameters = await readFile('test/fixtures/templates/arm/sig-deployment.parameters.json', 'utf8');

function inline(result: Awaited<ReturnType<typeof loadTemplateFiles>>): string {
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return JSON.stringify(result.spec.customizers);
}

describe('template file names', () => {
  it.each([
    ['web.json', { role: 'template', name: 'web', format: 'json' }],
    ['web.pkr.hcl', { role: 'template', name: 'web', format: 'hcl' }],
    ['web.v2.json', { role: 'template', name: 'web.v2', format: 'json' }],
    ['web.parameters.json', { role: 'parameters', name: 'web' }],
    ['web.pkrvars.hcl', { role: 'variables', name: 'web' }],
    ['web.hcl', undefined],
    ['README.md', undefined],
    ['.json', undefined],
  ])('%s', (blob, role) => {
    expect(templateFileRole(blob)).toEqual(role);
  });

  it('a name ending in .parameters is no template name (its file is another template\'s values)', () => {
    expect(isTemplateName('web')).toBe(true);
    expect(isTemplateName('web.parameters')).toBe(false);
  });

  it('bytes that are not UTF-8 are a named error', () => {
    expect(utf8Text('x.json', new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({
      error: { path: 'x.json', message: 'x.json is not UTF-8 text', expected: 'a template as UTF-8 text', found: '3 bytes of something else' },
    });
    expect(utf8Text('x.json', new TextEncoder().encode('{"é":1}'))).toEqual({ text: '{"é":1}' });
  });
});

describe('loading a template with the values beside it', () => {
  const options = { name: 'web-drop', subscriptionId: SUB };

  it('HCL2: .pkrvars.hcl gives values like -var-file, .parameters.json like -var (which wins), the caller\'s parameters win over both', async () => {
    const variables = 'image_name = "from-pkrvars"\ngreeting = "pkrvars"\n';
    expect(inline(await loadTemplateFiles({ file: 'web-drop.pkr.hcl', text: hcl, variables }, options))).toContain('echo pkrvars');
    const both = await loadTemplateFiles({ file: 'web-drop.pkr.hcl', text: hcl, variables, parameters: '{ "greeting": "parameters" }' }, options);
    expect(inline(both)).toContain('echo parameters');
    const caller = await loadTemplateFiles({ file: 'web-drop.pkr.hcl', text: hcl, variables, parameters: '{ "greeting": { "value": "file" } }' }, { ...options, parameters: { greeting: 'caller' } });
    expect(inline(caller)).toContain('echo caller');
  });

  it('a NAME.json holding PUT /templates\' HCL2 body is read as that HCL2 template, the values file beside it winning', async () => {
    const body = JSON.stringify({ template: hcl, parameters: { image_name: 'inside', greeting: 'inside' }, variables: 'greeting = "variables"' });
    const inside = await loadTemplateFiles({ file: 'web-drop.json', text: body }, options);
    expect(inline(inside)).toContain('echo inside');
    expect(inside.ok && inside.shape).toBe('Packer template');
    const besideWins = await loadTemplateFiles({ file: 'web-drop.json', text: body, parameters: '{ "greeting": "beside" }' }, options);
    expect(inline(besideWins)).toContain('echo beside');
    const bad = await loadTemplateFiles({ file: 'web-drop.json', text: JSON.stringify({ template: hcl, vars: {} }) }, options);
    expect(!bad.ok && bad.errors.map((e) => e.path)).toEqual(['web-drop.json: vars']);
  });

  it('values beside an AIB template, which has no parameters, are said to be unused', async () => {
    const aib = await readFile('examples/ubuntu-web.json', 'utf8');
    const loaded = await loadTemplateFiles({ file: 'web.json', text: aib, parameters: '{ "x": "1" }' }, options);
    expect(loaded.ok && loaded.warnings).toContainEqual({ path: 'parameters', message: 'an AIB template has no parameters; the values given for x are not used' });
  });

  it('ARM: a deployment parameters file beside the template', async () => {
    const loaded = await loadTemplateFiles({ file: 'arm.json', text: arm, parameters: armParameters }, { subscriptionId: SUB, location: 'eastus', resourceGroup: 'rg' });
    expect(loaded.ok && loaded.spec.name).toBe('ubuntu-web-arm');
    expect(loaded.ok && loaded.spec.tags).toMatchObject({ env: 'prod', team: 'web' });
  });

  it('names what is wrong: a values file that is not JSON, a .pkrvars.hcl beside JSON, a name Kiln does not read, a missing variable', async () => {
    const notJson = await loadTemplateFiles({ file: 'web-drop.pkr.hcl', text: hcl, parameters: 'image_name = "x"' }, options);
    expect(!notJson.ok && notJson.errors[0]).toMatchObject({ path: 'web-drop.parameters.json', message: expect.stringMatching(/^not valid JSON/) });
    const mixed = await loadTemplateFiles({ file: 'web.json', text: arm, variables: 'x = 1' }, options);
    expect(!mixed.ok && mixed.errors[0]).toMatchObject({ path: 'web.pkrvars.hcl', message: expect.stringContaining('put them in web.parameters.json') });
    const misnamed = await loadTemplateFiles({ file: 'web.hcl', text: hcl }, options);
    expect(!misnamed.ok && misnamed.errors[0]!.message).toContain('NAME.json or NAME.pkr.hcl');
    const missing = await loadTemplateFiles({ file: 'web-drop.pkr.hcl', text: hcl }, options);
    expect(!missing.ok && missing.errors[0]!.message).toMatch(/image_name.*\(MissingVariable\)$/);
  });
});
