// ARM deployment templates: the expression language (syntax, each function), parameters and variables, the resource
// chosen, and the errors, each naming the expression and its JSON path in the file.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/template/arm/evaluate.ts';
import { ArmExpressionError, classify, parseExpression } from '../../src/template/arm/expression.ts';
import type { ArmScope } from '../../src/template/arm/functions.ts';
import { readParameterValues } from '../../src/template/arm/parameters.ts';
import { convertTemplate, loadTemplate, loadTemplateFile, type LoadResult, type TemplateError } from '../../src/template/index.ts';

const dir = 'test/fixtures/templates/arm';
const SUB = '11111111-2222-3333-4444-555555555555';

function scope(overrides: Partial<ArmScope> = {}): ArmScope {
  const params: Record<string, unknown> = { name: 'Web', regions: ['westus2', 'northeurope'], flag: true, tags: { a: '1', nested: { x: 1 } } };
  return {
    parameter: (n) => {
      if (!(n in params)) throw new ArmExpressionError(`parameter ${n} is not declared`);
      return params[n];
    },
    variable: () => 'v',
    subscriptionId: SUB,
    resourceGroup: { name: 'rg-build', location: 'eastus' },
    inParameterDefault: false,
    now: new Date('2026-03-04T05:06:07.089Z'),
    ...overrides,
  };
}

const run = (text: string, s: ArmScope = scope()) => evaluate(parseExpression(text), s);

function errorsOf(result: LoadResult): TemplateError[] {
  if (result.ok) throw new Error(`expected errors, got a valid template ${result.spec.name}`);
  return result.errors;
}

function specOf(result: LoadResult) {
  if (!result.ok) throw new Error(`expected a valid template, got ${JSON.stringify(result.errors, null, 2)}`);
  return result;
}

describe('ARM expression syntax', () => {
  it('tells literals from expressions; [[ escapes a leading bracket', () => {
    expect(classify("[parameters('x')]")).toEqual({ expression: "parameters('x')" });
    expect(classify('[[ -f /etc/x ]')).toEqual({ literal: '[ -f /etc/x ]' });
    expect(classify('plain [text]x')).toEqual({ literal: 'plain [text]x' });
  });

  it('parses calls, doubled quotes, numbers, property access and indexing', () => {
    expect(parseExpression("concat('it''s', -2, f().a[0])")).toEqual({
      kind: 'call', name: 'concat', at: 0, args: [
        { kind: 'string', value: "it's" },
        { kind: 'number', value: -2 },
        { kind: 'index', at: 25, index: { kind: 'number', value: 0 }, target: { kind: 'property', name: 'a', at: 23, target: { kind: 'call', name: 'f', args: [], at: 20 } } },
      ],
    });
  });

  it.each([
    ["concat('a'", /expected "," or "\)" in the arguments of concat\(\)/],
    ["'unclosed", /a string is not closed/],
    ["concat('a') x", /unexpected "x" after the expression/],
    ['parameters', /expected "\(" after parameters/],
    ['concat(#)', /unexpected "#"/],
  ])('refuses %s with the position', (text, message) => {
    expect(() => parseExpression(text)).toThrow(message);
    try {
      parseExpression(text);
    } catch (error) {
      expect((error as ArmExpressionError).at).toEqual(expect.any(Number));
    }
  });
});

describe('ARM functions', () => {
  it.each<[string, unknown]>([
    ["concat('a-', parameters('name'), 1, true())", 'a-Web1True'],
    ["concat(parameters('regions'), createArray('eastus'))", ['westus2', 'northeurope', 'eastus']],
    ["format('{0}-{1}-{0} {{x}}', 'a', 2)", 'a-2-a {x}'],
    ["resourceGroup().location", 'eastus'],
    ["resourceGroup().name", 'rg-build'],
    ["resourceGroup().id", `/subscriptions/${SUB}/resourceGroups/rg-build`],
    ['subscription().subscriptionId', SUB],
    ["resourceId('Microsoft.Compute/images', 'img')", `/subscriptions/${SUB}/resourceGroups/rg-build/providers/Microsoft.Compute/images/img`],
    ["resourceId('other-rg', 'Microsoft.Compute/galleries/images', 'g', 'i')", `/subscriptions/${SUB}/resourceGroups/other-rg/providers/Microsoft.Compute/galleries/g/images/i`],
    ["resourceId('sub2', 'rg2', 'Microsoft.Network/virtualNetworks/subnets', 'v', 's')", '/subscriptions/sub2/resourceGroups/rg2/providers/Microsoft.Network/virtualNetworks/v/subnets/s'],
    ["toLower(parameters('name'))", 'web'],
    ["toUpper('abc')", 'ABC'],
    ["replace('a-b-c', '-', '')", 'abc'],
    ["if(equals(parameters('name'), 'Web'), 'yes', parameters('undeclared'))", 'yes'],
    ["if(parameters('flag'), 1, 2)", 1],
    ["equals(createObject('a', createArray(1, 2)), json('{\"a\":[1,2]}'))", true],
    ["equals('A', 'a')", false],
    ['string(true())', 'True'],
    ["string(createObject('a', 1))", '{"a":1}'],
    ['string(3)', '3'],
    ["int(' 40 ')", 40],
    ["json('[1, \"two\"]')[1]", 'two'],
    ["createObject('k', 'v', 'n', 1)", { k: 'v', n: 1 }],
    ["union(parameters('tags'), createObject('b', '2', 'nested', createObject('y', 2)))", { a: '1', b: '2', nested: { x: 1, y: 2 } }],
    ["union(createArray(1, 2), createArray(2, 3))", [1, 2, 3]],
    ["parameters('regions')[1]", 'northeurope'],
    ["parameters('tags').NESTED.x", 1],
    ['null()', null],
  ])('%s', (text, expected) => {
    expect(run(text)).toEqual(expected);
  });

  // Values ARM gave for these inputs, as published: a README run of Microsoft's Azure.Deployments.Expression package
  // (takekazuomi/arm-uniquestring), a Stack Overflow answer (questions/43295720), the Go port's README
  // (JasonWhall/go-azure-uniquestring) and the azapi provider's unit test (Azure/terraform-provider-azapi).
  it.each([
    ["uniqueString('test')", 'rbgf3xv4ufgzg'],
    ["uniqueString('tyeth')", 'zcztcwvu6iyg6'],
    ["uniqueString('hello', 'world')", 'a7wkljktk6wne'],
    ["uniqueString('/subscriptions/00000000-0000-0000-0000-000000000000', 'resource-id')", 'cwvxuqg24sifi'],
  ])('%s is ARM\'s value', (text, expected) => {
    expect(run(text)).toBe(expected);
  });

  it('guid is deterministic, shaped like ARM\'s (its exact value is not ARM\'s), and differs by input', () => {
    const g = run("guid('x')");
    expect(g).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(run("guid('x')")).toBe(g);
    expect(run("guid('y')")).not.toBe(g);
  });

  it('utcNow works in a parameter default only, with ARM\'s default and custom formats', () => {
    const defaults = scope({ inParameterDefault: true });
    expect(run('utcNow()', defaults)).toBe('20260304T050607Z');
    expect(run("utcNow('u')", defaults)).toBe('2026-03-04 05:06:07Z');
    expect(run("utcNow('yyyy-MM-dd HH:mm')", defaults)).toBe('2026-03-04 05:06');
    expect(() => run('utcNow()')).toThrow("utcNow() can be used only in a parameter's defaultValue");
  });

  it.each([
    ["reference('x')", /unknown function reference\(\); Kiln evaluates parameters, variables/],
    ["concat(createArray(1), 'a')", /every argument must be one/],
    ["int('4x')", /int\(\): expected an integer/],
    ["json('{')", /json\(\): not valid JSON/],
    ["createObject('a')", /key, value pairs/],
    ["format('{1}', 'a')", /has no argument/],
    ["format('{0:D}', 1)", /format specifier/],
    ["resourceId('img', 'x')", /expected a resource type/],
    ["resourceId('Microsoft.Compute/galleries/images', 'g')", /needs 2 names, found 1/],
    ["parameters('regions')[5]", /index 5 is outside the array \(length 2\)/],
    ["parameters('tags').missing", /has no property "missing" \(it has a, nested\)/],
    ['toLower(1)', /toLower\(\): the argument must be a string, found an int/],
    ["if('yes', 1, 2)", /the condition must be a bool/],
    ['subscription().tenantId', /subscription\(\)\.tenantId is not known/],
  ])('%s is a named error', (text, message) => {
    expect(() => run(text)).toThrow(message);
  });

  it('resourceGroup() outside a group says which option gives what', () => {
    expect(() => run('resourceGroup().location', scope({ resourceGroup: {} }))).toThrow(/give --location/);
    expect(() => run("resourceId('Microsoft.Compute/images', 'i')", scope({ resourceGroup: {} }))).toThrow(/resource group is not known/);
  });
});

describe('ARM deployment templates', () => {
  async function sigDeployment(options: Record<string, unknown> = {}) {
    const { values } = readParameterValues(JSON.parse(await readFile(join(dir, 'sig-deployment.parameters.json'), 'utf8')));
    return loadTemplateFile(join(dir, 'sig-deployment.json'), { parameters: values, location: 'eastus', resourceGroup: 'rg-build', subscriptionId: SUB, ...options });
  }

  it('evaluates parameters (file, defaults, allowedValues), variables and functions into one imageTemplate', async () => {
    const result = specOf(await sigDeployment());
    const { spec } = result;
    expect(result.shape).toBe('ARM deployment template');
    expect(spec.name).toBe('ubuntu-web-arm');
    expect(spec.location).toBe('eastus'); // svclocation's default: resourceGroup().location
    expect(spec.tags).toEqual({ env: 'prod', stamp: expect.stringMatching(/^\d{8}$/), team: 'web' });
    expect(spec.buildTimeoutInMinutes).toBe(120);
    expect(spec.vmProfile).toMatchObject({ vmSize: 'Standard_D4ds_v5', osDiskSizeGB: 40 });
    expect(spec.customizers[0]).toMatchObject({
      name: 'install-NGINX',
      script: { kind: 'inline', lines: ['PACKAGES="nginx curl"', 'sudo apt-get install -y $PACKAGES', '[ -d /etc/nginx ] && echo nginx-config-present', expect.stringMatching(/^echo built for 2 on \d{8} > \/tmp\/build-info$/)] },
    });
    expect(spec.distributions[0]).toMatchObject({
      galleryImageId: `/subscriptions/${SUB}/resourceGroups/rg-build/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web`,
      runOutputName: 'ubuntu-web-arm-sig',
      regions: [{ name: 'westus2', replicaCount: 2 }, { name: 'northeurope', replicaCount: 1 }],
      artifactTags: { subscription: SUB, build: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
    expect(result.warnings).toEqual([
      { path: 'resources', message: 'Kiln bakes the imageTemplates resource only; 1 other resource is not deployed (Microsoft.ManagedIdentity/userAssignedIdentities)' },
    ]);
    // What the input became: a plain AIB resource, expressions gone, ARM bookkeeping (dependsOn) dropped.
    expect(result.template).toMatchObject({ type: 'Microsoft.VirtualMachineImages/imageTemplates', name: 'ubuntu-web-arm', location: 'eastus' });
    expect(result.template).not.toHaveProperty('dependsOn');
    expect(Object.keys((result.template.identity as { userAssignedIdentities: object }).userAssignedIdentities)).toEqual([
      expect.stringMatching(new RegExp(`^/subscriptions/${SUB}/resourceGroups/rg-build/providers/Microsoft.ManagedIdentity/userAssignedIdentities/prod-aib-[a-z2-7]{13}$`)),
    ]);
    expect(JSON.stringify(result.template)).not.toMatch(/\[(parameters|variables|concat)\(/);
  });

  it('reads --param text as the declared type and checks it', async () => {
    expect(specOf(await sigDeployment({ parameters: { imageTemplateName: 'x-web', galleryName: 'g', replicaCount: '3', installNginx: 'false', extraTags: '{"team":"ops"}' } })).spec)
      .toMatchObject({ name: 'x-web', tags: { team: 'ops', env: 'dev' }, vmProfile: { vmSize: 'Standard_D2ds_v4' }, distributions: [{ regions: [{ replicaCount: 3 }, {}] }] });
    expect(errorsOf(await sigDeployment({ parameters: { imageTemplateName: 'x', galleryName: 'g', replicaCount: 'three', environment: 'qa' } }))).toEqual([
      { path: 'parameters.imageTemplateName', message: 'parameter imageTemplateName must have a length of at least 3, found 1' },
      { path: 'parameters.environment', message: 'parameter environment must be one of "dev" | "prod", found "qa"' },
      { path: 'parameters.replicaCount', message: 'parameter replicaCount is declared int, found the text "three"' },
    ]);
  });

  it('a missing required parameter, a disallowed default and an unknown function are named errors at their JSON paths', async () => {
    expect(errorsOf(await loadTemplateFile(join(dir, 'bad-missing-parameter.json')))).toEqual([
      {
        path: 'parameters.location',
        message: 'parameter location needs a value: give --param location=VALUE, a parameters file, or a defaultValue',
        expected: 'a string value',
        found: 'nothing',
      },
      { path: 'parameters.osFlavor', message: 'parameter osFlavor must be one of "jammy" | "noble", found "focal"' },
    ]);
    expect(errorsOf(await loadTemplateFile(join(dir, 'bad-unknown-function.json')))).toEqual([{
      path: 'resources[0].properties.customize[0].inline[0]',
      message: expect.stringMatching(/^cannot evaluate \[reference\('someVm'\)\.outputs\.value\]: unknown function reference\(\); Kiln evaluates parameters, .* \(at character 1 of the expression\)$/),
    }]);
    expect(errorsOf(await loadTemplateFile(join(dir, 'bad-missing-parameter.json'), { parameters: { location: 'eastus', osFlavor: 'noble', extra: 'x' } }))).toEqual([
      { path: 'parameters.extra', message: 'parameter extra is given a value but the template does not declare it', expected: 'location | osFlavor', found: '"extra"' },
    ]);
  });

  it('several imageTemplates resources need --resource; the error lists them (a false condition drops one)', async () => {
    const file = join(dir, 'two-templates.json');
    expect(errorsOf(await loadTemplateFile(file))).toEqual([{
      path: 'resources',
      message: 'holds 2 imageTemplates resources: choose one with --resource NAME',
      expected: 'linux-base | windows-base',
      found: '2 resources',
    }]);
    expect(specOf(await loadTemplateFile(file, { resource: 'windows-base' })).spec).toMatchObject({ name: 'windows-base', location: 'eastus', customizers: [{ type: 'PowerShell' }] });
    expect(errorsOf(await loadTemplateFile(file, { resource: 'nope' }))[0]).toMatchObject({ message: 'no imageTemplates resource is named nope', expected: 'linux-base | windows-base' });
  });

  it('errors inside the evaluated resource point into the file; errors in variables point at the variable', async () => {
    const template = {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      variables: { broken: "[concat('a', variables('loop'))]", loop: "[variables('broken')]", size: 'Standard_D2s_v5' },
      resources: [
        { type: 'Microsoft.Storage/storageAccounts', name: 'x' },
        {
          type: 'Microsoft.VirtualMachineImages/imageTemplates', name: 't', location: 'westus',
          properties: {
            source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'v1' },
            vmProfile: { vmSize: "[variables('size')]" },
            customize: [{ type: 'Shell', inline: ["[variables('broken')]"] }],
            distribute: [{ type: 'VHD', runOutputName: 'v' }],
          },
        },
      ],
    };
    const errors = errorsOf(await loadTemplate({ json: template }));
    expect(errors).toContainEqual(expect.objectContaining({ path: 'variables.loop', message: expect.stringContaining('variable broken refers to itself') }));
    expect(errors).toContainEqual(expect.objectContaining({ path: 'resources[1].properties.customize[0].inline[0]', message: expect.stringContaining('variable broken cannot be evaluated') }));
    template.variables = { broken: "[concat('a')]", loop: 'x', size: 'Standard_D2s_v5' };
    expect(errorsOf(await loadTemplate({ json: template }))).toEqual([
      expect.objectContaining({ path: 'resources[1].properties.source.version', message: "must be 'latest' or a version Major.Minor.Patch" }),
    ]);
  });

  it('takes parameter values beside the template ({ template, parameters }, as the HTTP API and blob drop carry them)', async () => {
    const template = JSON.parse(await readFile(join(dir, 'bad-missing-parameter.json'), 'utf8'));
    const loaded = specOf(await loadTemplate({ json: { template, parameters: { location: { value: 'northeurope' }, osFlavor: { value: 'jammy' } } } }));
    expect(loaded.spec).toMatchObject({ name: 'needs-params', location: 'northeurope', source: { offer: 'jammy' } });
    template.parameters.adminPassword = { type: 'securestring', defaultValue: '' };
    expect(specOf(await loadTemplate({ json: { template, parameters: { location: { value: 'northeurope' }, osFlavor: { value: 'jammy' } } } })).warnings).toEqual([
      { path: 'template.parameters.adminPassword', message: expect.stringContaining('adminPassword is securestring, but Kiln keeps the evaluated template with the run') },
    ]);
    expect(errorsOf(await loadTemplate({ json: { template, parameters: { location: 'northeurope' } } }))).toEqual([
      { path: 'parameters.location', message: 'must be a parameter value object', expected: '{ "value": … }', found: '"northeurope"' },
    ]);
    expect(errorsOf(await loadTemplate({ json: { template, parameters: { location: { reference: { keyVault: {} } } } } }))[0]?.message).toMatch(/Key Vault parameter references are not supported/);
  });

  it('takes resource, location and resourceGroup beside the template too (the API has no command-line flags)', async () => {
    const template = JSON.parse(await readFile(join(dir, 'two-templates.json'), 'utf8'));
    template.parameters.location.defaultValue = '[resourceGroup().location]';
    const beside = specOf(await loadTemplate({ json: { template, resource: 'linux-base', location: 'westus3', resourceGroup: 'rg-x' } }));
    expect(beside.spec).toMatchObject({ name: 'linux-base', location: 'westus3' });
    // The caller's own options win over what sits beside the template.
    expect(specOf(await loadTemplate({ json: { template, resource: 'linux-base', location: 'westus3' } }, { location: 'eastus2' })).spec.location).toBe('eastus2');
    expect(errorsOf(await loadTemplate({ json: { template, resource: 'linux-base' } }))[0]?.message).toMatch(/resourceGroup\(\)\.location is not known: .*location \/ resourceGroup beside the template/);
    expect(errorsOf(await loadTemplate({ json: { template, resource: 7 } }))).toEqual([{ path: 'resource', message: 'must be a non-empty string', expected: 'a string', found: '7' }]);
  });

  it('a parameters file given as the template says so', async () => {
    expect(errorsOf(await loadTemplateFile(join(dir, 'sig-deployment.parameters.json')))).toEqual([
      { path: '$', message: 'this is a deployment parameters file, not a template: give it beside the template with --parameters', found: 'a parameters file' },
    ]);
  });

  it('hostile nesting is a named error, never a stack overflow', async () => {
    const resource = (name: string, properties: string) =>
      `{"resources":[{"type":"Microsoft.VirtualMachineImages/imageTemplates","name":${name},"location":"eastus","properties":${properties}}]}`;
    const deepJson = await loadTemplate({ text: resource('"x"', `${'['.repeat(50_000)}${']'.repeat(50_000)}`) });
    expect(errorsOf(deepJson)).toEqual([{ path: '$', message: 'nests deeper than 64 levels', expected: 'at most 64 levels of objects and arrays', found: 'deeper nesting' }]);
    const deepExpression = await loadTemplate({ text: resource(`"[${'concat('.repeat(50_000)}'a'${')'.repeat(50_000)}]"`, '{}') });
    const [error] = errorsOf(deepExpression);
    expect(error?.path).toBe('resources[0].name');
    expect(error?.message).toMatch(/calls nest deeper than 64 levels/);
    expect(error?.message.length).toBeLessThan(400);
  });

  it('refuses copy loops and a template with no imageTemplates resource', async () => {
    const base = { $schema: 'x/deploymentTemplate.json#', contentVersion: '1.0.0.0' };
    const copy = await convertTemplate({ json: { ...base, resources: [{ type: 'Microsoft.VirtualMachineImages/imageTemplates', name: 'a', copy: { name: 'c', count: 2 } }] } });
    expect(copy).toMatchObject({ ok: false, errors: [{ path: 'resources[0].copy', message: expect.stringContaining('copy loops are not supported') }] });
    const none = await convertTemplate({ json: { ...base, resources: [{ type: 'Microsoft.Compute/images', name: 'a' }] } });
    expect(none).toMatchObject({ ok: false, errors: [{ path: 'resources', message: 'holds no Microsoft.VirtualMachineImages/imageTemplates resource to bake', found: 'Microsoft.Compute/images' }] });
  });
});
