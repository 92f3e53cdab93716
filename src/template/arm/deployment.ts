/**
 * ARM deployment templates holding imageTemplates resources: parameters (declared, given, defaulted, checked),
 * variables, the one resource to bake, evaluated into a plain AIB imageTemplate resource.
 */

import { describe, formatPath } from '../errors.ts';
import type { Conversion, LoadOptions, TemplateFormat, TemplateInput } from '../load.ts';
import type { TemplateError, TemplateWarning } from '../spec.ts';
import { evaluateTree } from './evaluate.ts';
import { ArmExpressionError } from './expression.ts';
import { isPlainObject, typeName, type ArmScope } from './functions.ts';
import { isParametersFile, readParameterValues, type ParameterValues } from './parameters.ts';

const SHAPE = 'ARM deployment template';
const IMAGE_TEMPLATE_TYPES = new Set(['microsoft.virtualmachineimages/imagetemplates', 'microsoft.virtualmachineimages']);
const PARAMETER_TYPES = ['string', 'securestring', 'int', 'bool', 'object', 'secureobject', 'array'] as const;
/** ARM's bookkeeping around a resource, meaningless to a bake. */
const DEPLOYMENT_ONLY_KEYS = ['dependsOn', 'condition', 'comments'];

type Json = Record<string, unknown>;

/** What may sit beside a template (the HTTP API's and blob drop's form of the CLI's --param, --resource, --location, --resource-group). */
const BESIDE_KEYS = ['template', 'parameters', 'resource', 'location', 'resourceGroup'] as const;
const BESIDE_OPTIONS = ['resource', 'location', 'resourceGroup'] as const;

/** `{ "template": {…}, "parameters": {…}, … }`: a deployment's template with its parameter values beside it. */
function isWrapper(json: Json): boolean {
  return isPlainObject(json.template) && Object.keys(json).every((k) => (BESIDE_KEYS as readonly string[]).includes(k));
}

/** The options given beside a wrapped template; the caller's own options win. */
function besideOptions(json: Json, options: LoadOptions): { options: LoadOptions; errors: TemplateError[] } {
  const errors: TemplateError[] = [];
  const merged: LoadOptions = { ...options };
  for (const key of BESIDE_OPTIONS) {
    const value = json[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '') {
      errors.push({ path: key, message: 'must be a non-empty string', expected: 'a string', found: describe(value) });
    } else if (merged[key] === undefined) {
      merged[key] = value;
    }
  }
  return { options: merged, errors };
}

function claims(input: TemplateInput): boolean {
  const json = input.json;
  if (!isPlainObject(json)) return false;
  return Array.isArray(json.resources) || isWrapper(json) || isParametersFile(json);
}

function lookup<T>(record: Record<string, T>, name: string): [string, T] | undefined {
  const key = name in record ? name : Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : [key, record[key] as T];
}

/** A value given as text (`--param`) read as the declared type; anything else is checked against it. */
function typed(name: string, type: string, value: unknown): unknown {
  const t = type.toLowerCase();
  if (typeof value === 'string' && t !== 'string' && t !== 'securestring') {
    if (t === 'int' && /^-?\d+$/.test(value.trim())) return Number(value);
    if (t === 'bool' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
    if (t === 'object' || t === 'secureobject' || t === 'array') {
      try {
        return typed(name, type, JSON.parse(value));
      } catch (error) {
        if (error instanceof ArmExpressionError) throw error;
      }
    }
    throw new ArmExpressionError(`parameter ${name} is declared ${type}, found the text ${JSON.stringify(value)}`);
  }
  const ok =
    t === 'string' || t === 'securestring' ? typeof value === 'string'
    : t === 'int' ? Number.isInteger(value)
    : t === 'bool' ? typeof value === 'boolean'
    : t === 'array' ? Array.isArray(value)
    : isPlainObject(value);
  if (!ok) throw new ArmExpressionError(`parameter ${name} is declared ${type}, found ${typeName(value)}`);
  return value;
}

function checkConstraints(name: string, declaration: Json, value: unknown): void {
  const allowed = declaration.allowedValues;
  if (Array.isArray(allowed) && !allowed.some((a) => JSON.stringify(a) === JSON.stringify(value))) {
    throw new ArmExpressionError(`parameter ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(' | ')}, found ${JSON.stringify(value)}`);
  }
  const length = typeof value === 'string' || Array.isArray(value) ? value.length : undefined;
  if (typeof declaration.minLength === 'number' && length !== undefined && length < declaration.minLength) {
    throw new ArmExpressionError(`parameter ${name} must have a length of at least ${declaration.minLength}, found ${length}`);
  }
  if (typeof declaration.maxLength === 'number' && length !== undefined && length > declaration.maxLength) {
    throw new ArmExpressionError(`parameter ${name} must have a length of at most ${declaration.maxLength}, found ${length}`);
  }
  if (typeof declaration.minValue === 'number' && typeof value === 'number' && value < declaration.minValue) {
    throw new ArmExpressionError(`parameter ${name} must be at least ${declaration.minValue}, found ${value}`);
  }
  if (typeof declaration.maxValue === 'number' && typeof value === 'number' && value > declaration.maxValue) {
    throw new ArmExpressionError(`parameter ${name} must be at most ${declaration.maxValue}, found ${value}`);
  }
}

/** Parameters and variables, each resolved once on first use; a cycle or a bad value is an error at its own path. */
class Deployment {
  readonly errors: TemplateError[] = [];
  private readonly params = new Map<string, unknown>();
  private readonly vars = new Map<string, unknown>();
  private readonly resolving = new Set<string>();
  private readonly failed = new Set<string>();

  readonly scope: ArmScope;
  private readonly defaultsScope: ArmScope;
  private readonly now = new Date();

  private readonly declared: Record<string, Json>;
  private readonly given: ParameterValues;
  private readonly variables: Json;

  constructor(declared: Record<string, Json>, given: ParameterValues, variables: Json, options: LoadOptions) {
    this.declared = declared;
    this.given = given;
    this.variables = variables;
    this.scope = this.scopeFor(false, options);
    this.defaultsScope = this.scopeFor(true, options);
  }

  private scopeFor(inParameterDefault: boolean, options: LoadOptions): ArmScope {
    return {
      parameter: (name) => this.parameter(name),
      variable: (name) => this.variable(name),
      ...(options.subscriptionId ? { subscriptionId: options.subscriptionId } : {}),
      resourceGroup: { ...(options.resourceGroup ? { name: options.resourceGroup } : {}), ...(options.location ? { location: options.location } : {}) },
      inParameterDefault,
      now: this.now,
    };
  }

  /** Resolves a parameter: the given value, else the (evaluated) default; required ones without either are errors. */
  parameter(name: string): unknown {
    const found = lookup(this.declared, name);
    if (!found) throw new ArmExpressionError(`parameter ${name} is not declared in the template's parameters (declared: ${Object.keys(this.declared).join(', ') || 'none'})`);
    const [key, declaration] = found;
    const id = `p:${key}`;
    if (this.params.has(key)) return this.params.get(key);
    if (this.failed.has(id)) throw new ArmExpressionError(`parameter ${key} has no usable value (see parameters.${key})`);
    if (this.resolving.has(id)) throw new ArmExpressionError(`parameter ${key} refers to itself through its defaultValue`);
    this.resolving.add(id);
    try {
      const type = typeof declaration.type === 'string' ? declaration.type : 'string';
      const givenValue = lookup(this.given, key);
      let value: unknown;
      if (givenValue) {
        value = givenValue[1];
      } else if ('defaultValue' in declaration) {
        const errors: TemplateError[] = [];
        value = evaluateTree(declaration.defaultValue, ['parameters', key, 'defaultValue'], this.defaultsScope, errors);
        if (errors.length > 0) {
          this.errors.push(...errors);
          this.failed.add(id);
          throw new ArmExpressionError(`parameter ${key}'s defaultValue cannot be evaluated`);
        }
      } else {
        this.errors.push({
          path: formatPath(['parameters', key]),
          message: `parameter ${key} needs a value: give --param ${key}=VALUE, a parameters file, or a defaultValue`,
          expected: `a ${type} value`,
          found: 'nothing',
        });
        this.failed.add(id);
        throw new ArmExpressionError(`parameter ${key} has no value`);
      }
      try {
        value = typed(key, type, value);
        checkConstraints(key, declaration, value);
      } catch (error) {
        if (!(error instanceof ArmExpressionError)) throw error;
        this.errors.push({ path: formatPath(['parameters', key]), message: error.message });
        this.failed.add(id);
        throw new ArmExpressionError(`parameter ${key} has no usable value`);
      }
      this.params.set(key, value);
      return value;
    } finally {
      this.resolving.delete(id);
    }
  }

  variable(name: string): unknown {
    const found = lookup(this.variables, name);
    if (!found) throw new ArmExpressionError(`variable ${name} is not declared in the template's variables (declared: ${Object.keys(this.variables).join(', ') || 'none'})`);
    const [key, definition] = found;
    const id = `v:${key}`;
    if (this.vars.has(key)) return this.vars.get(key);
    if (this.failed.has(id)) throw new ArmExpressionError(`variable ${key} cannot be evaluated (see variables.${key})`);
    if (this.resolving.has(id)) throw new ArmExpressionError(`variable ${key} refers to itself`);
    if (key === 'copy') throw new ArmExpressionError('variable copy loops are not supported by Kiln');
    this.resolving.add(id);
    try {
      const errors: TemplateError[] = [];
      const value = evaluateTree(definition, ['variables', key], this.scope, errors);
      if (errors.length > 0) {
        this.errors.push(...errors);
        this.failed.add(id);
        throw new ArmExpressionError(`variable ${key} cannot be evaluated (see variables.${key})`);
      }
      this.vars.set(key, value);
      return value;
    } finally {
      this.resolving.delete(id);
    }
  }
}

/** Checks the deployment template's frame: an object of parameter declarations, of variables, an array of resources. */
function frameErrors(template: Json): TemplateError[] {
  const errors: TemplateError[] = [];
  if (!Array.isArray(template.resources)) errors.push({ path: 'resources', message: 'must be an array of resources', expected: 'an array', found: describe(template.resources) });
  for (const key of ['parameters', 'variables'] as const) {
    if (template[key] !== undefined && !isPlainObject(template[key])) errors.push({ path: key, message: 'must be an object', expected: 'an object', found: describe(template[key]) });
  }
  if (isPlainObject(template.parameters)) {
    for (const [name, declaration] of Object.entries(template.parameters)) {
      const type = isPlainObject(declaration) ? declaration.type : undefined;
      if (typeof type !== 'string' || !PARAMETER_TYPES.includes(type.toLowerCase() as (typeof PARAMETER_TYPES)[number])) {
        errors.push({ path: formatPath(['parameters', name, 'type']), message: 'must be a parameter type', expected: PARAMETER_TYPES.join(' | '), found: describe(type) });
      }
    }
  }
  return errors;
}

function fail(errors: TemplateError[]): Conversion {
  return { ok: false, shape: SHAPE, errors };
}

function convert(input: TemplateInput, callerOptions: LoadOptions): Conversion {
  const json = input.json as Json;
  if (isParametersFile(json) && !Array.isArray(json.resources)) {
    return fail([{ path: '$', message: 'this is a deployment parameters file, not a template: give it beside the template with --parameters', found: 'a parameters file' }]);
  }
  const wrapped = isWrapper(json);
  const { options, errors: besideErrors } = wrapped ? besideOptions(json, callerOptions) : { options: callerOptions, errors: [] };
  if (besideErrors.length > 0) return fail(besideErrors);
  const template = (wrapped ? json.template : json) as Json;
  const at: PropertyKey[] = wrapped ? ['template'] : [];
  const prefix = (errors: TemplateError[]) => (wrapped ? errors.map((e) => ({ ...e, path: e.path === '$' ? 'template' : `template.${e.path}` })) : errors);

  const frame = frameErrors(template);
  if (frame.length > 0) return fail(prefix(frame));
  const declared = (template.parameters ?? {}) as Record<string, Json>;
  const beside = wrapped && json.parameters !== undefined ? readParameterValues(json.parameters, ['parameters']) : { values: {}, errors: [] };
  if (beside.errors.length > 0) return fail(beside.errors);
  const given: ParameterValues = { ...beside.values, ...(options.parameters ?? {}) };
  const undeclared = Object.keys(given).filter((name) => !lookup(declared, name));
  if (undeclared.length > 0) {
    return fail(undeclared.map((name) => ({
      path: formatPath(['parameters', name]),
      message: `parameter ${name} is given a value but the template does not declare it`,
      expected: Object.keys(declared).join(' | ') || 'no parameters',
      found: JSON.stringify(name),
    })));
  }

  const deployment = new Deployment(declared, given, (template.variables ?? {}) as Json, options);
  // Every declared parameter is resolved, used or not, so a missing or disallowed value is always reported (as ARM does).
  for (const name of Object.keys(declared)) {
    try {
      deployment.parameter(name);
    } catch (error) {
      if (!(error instanceof ArmExpressionError)) throw error;
    }
  }
  if (deployment.errors.length > 0) return fail(prefix(dedupe(deployment.errors)));

  const resources = template.resources as unknown[];
  const warnings: TemplateWarning[] = [];
  // A secure parameter's value becomes template text, kept with the run like any other: say so, once per parameter.
  for (const [name, declaration] of Object.entries(declared)) {
    if (typeof declaration.type === 'string' && declaration.type.toLowerCase().startsWith('secure')) {
      warnings.push({
        path: formatPath([...at, 'parameters', name]),
        message: `${name} is ${declaration.type}, but Kiln keeps the evaluated template with the run: give secrets through properties.secrets (Key Vault) instead`,
      });
    }
  }
  const candidates: Array<{ index: number; name: string }> = [];
  const errors: TemplateError[] = [];
  const others: string[] = [];
  resources.forEach((resource, index) => {
    const path = ['resources', index];
    const type = isPlainObject(resource) && typeof resource.type === 'string' ? resource.type : '';
    if (!IMAGE_TEMPLATE_TYPES.has(type.toLowerCase())) {
      others.push(type || '(no type)');
      return;
    }
    const r = resource as Json;
    if ('copy' in r) {
      errors.push({ path: formatPath([...path, 'copy']), message: 'copy loops are not supported by Kiln: write one imageTemplates resource per image' });
      return;
    }
    if ('condition' in r) {
      const condition = evaluateTree(r.condition, [...path, 'condition'], deployment.scope, errors);
      if (condition === false) return;
    }
    const name = evaluateTree(r.name, [...path, 'name'], deployment.scope, errors);
    candidates.push({ index, name: typeof name === 'string' ? name : `resources[${index}]` });
  });
  if (errors.length > 0 || deployment.errors.length > 0) return fail(prefix(dedupe([...deployment.errors, ...errors])));
  if (others.length > 0) {
    warnings.push({
      path: wrapped ? 'template.resources' : 'resources',
      message: `Kiln bakes the imageTemplates resource only; ${others.length} other resource${others.length === 1 ? ' is' : 's are'} not deployed (${[...new Set(others)].join(', ')})`,
    });
  }
  if (candidates.length === 0) {
    return fail(prefix([{
      path: 'resources',
      message: 'holds no Microsoft.VirtualMachineImages/imageTemplates resource to bake',
      expected: 'a resource of type Microsoft.VirtualMachineImages/imageTemplates',
      found: others.length > 0 ? [...new Set(others)].join(', ') : 'no resources',
    }]));
  }
  let chosen = candidates[0];
  if (options.resource !== undefined) {
    chosen = candidates.find((c) => c.name === options.resource) ?? candidates.find((c) => c.name.toLowerCase() === options.resource?.toLowerCase());
    if (!chosen) {
      return fail(prefix([{ path: 'resources', message: `no imageTemplates resource is named ${options.resource}`, expected: candidates.map((c) => c.name).join(' | '), found: JSON.stringify(options.resource) }]));
    }
  } else if (candidates.length > 1) {
    return fail(prefix([{
      path: 'resources',
      message: `holds ${candidates.length} imageTemplates resources: choose one with --resource NAME`,
      expected: candidates.map((c) => c.name).join(' | '),
      found: `${candidates.length} resources`,
    }]));
  }
  if (!chosen) throw new Error('ARM deployment: a chosen resource must exist here');

  const raw = resources[chosen.index] as Json;
  const kept = Object.fromEntries(Object.entries(raw).filter(([k]) => !DEPLOYMENT_ONLY_KEYS.includes(k)));
  const evaluated = evaluateTree(kept, ['resources', chosen.index], deployment.scope, errors) as Json;
  if (errors.length > 0 || deployment.errors.length > 0) return fail(prefix(dedupe([...deployment.errors, ...errors])));
  return { ok: true, shape: SHAPE, template: evaluated, warnings, pathPrefix: formatPath([...at, 'resources', chosen.index]) };
}

function dedupe(errors: TemplateError[]): TemplateError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\n${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const armDeployment: TemplateFormat = { shape: SHAPE, claims, convert };
