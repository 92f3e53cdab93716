/** ARM parameter values from outside a template: a `*.parameters.json` file, a `parameters` object, `name=value` text. */

import { describe, formatPath } from '../errors.ts';
import type { TemplateError } from '../spec.ts';
import { isPlainObject } from './functions.ts';

export type ParameterValues = Record<string, unknown>;

/** True for a deployment parameters file (`$schema` …deploymentParameters.json, or `parameters` and nothing but metadata). */
export function isParametersFile(json: unknown): boolean {
  if (!isPlainObject(json)) return false;
  if (typeof json.$schema === 'string' && /deploymentParameters\.json/i.test(json.$schema)) return true;
  return isPlainObject(json.parameters) && Object.keys(json).every((k) => ['$schema', 'contentVersion', 'parameters'].includes(k)) && !('resources' in json);
}

/**
 * Reads ARM's `{ "name": { "value": … } }` form, alone (the API's `parameters`) or inside a parameters file.
 * A Key Vault `reference` is refused: Kiln reads secrets through the template's `secrets`, never into its text.
 */
export function readParameterValues(json: unknown, at: readonly PropertyKey[] = []): { values: ParameterValues; errors: TemplateError[] } {
  const errors: TemplateError[] = [];
  const values: ParameterValues = {};
  const list = isPlainObject(json) && isPlainObject(json.parameters) && ('$schema' in json || 'contentVersion' in json || Object.keys(json).length === 1)
    ? { object: json.parameters, path: [...at, 'parameters'] }
    : { object: json, path: [...at] };
  if (!isPlainObject(list.object)) {
    errors.push({ path: formatPath(list.path), message: 'must be an object of parameter values', expected: '{ "name": { "value": … } }', found: describe(list.object) });
    return { values, errors };
  }
  for (const [name, entry] of Object.entries(list.object)) {
    const path = formatPath([...list.path, name]);
    if (isPlainObject(entry) && 'reference' in entry) {
      errors.push({ path, message: 'Key Vault parameter references are not supported: give the secret to the bake through the template\'s secrets', found: 'a reference' });
    } else if (isPlainObject(entry) && 'value' in entry && Object.keys(entry).every((k) => k === 'value' || k === 'metadata')) {
      values[name] = entry.value;
    } else {
      errors.push({ path, message: 'must be a parameter value object', expected: '{ "value": … }', found: describe(entry) });
    }
  }
  return { values, errors };
}

/** `name=value` (the CLI's `--param`); the value stays text until the template's declared type reads it. */
export function parseAssignment(text: string): { name: string; value: string } | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  return { name: text.slice(0, eq).trim(), value: text.slice(eq + 1) };
}

/**
 * Values given beside a template (the API's `parameters`, a `.parameters.json` file): a deployment parameters file,
 * ARM's `{ "name": { "value": … } }`, or plain `{ "name": value }` (a Packer template's variables).
 */
export function parameterValuesOf(json: unknown): { values: ParameterValues; errors: TemplateError[] } {
  if (isParametersFile(json)) return readParameterValues(json);
  if (!isPlainObject(json)) {
    return { values: {}, errors: [{ path: '$', message: 'must be an object of values by name', expected: '{ "name": value } or { "name": { "value": … } }', found: describe(json) }] };
  }
  const armShaped = Object.values(json).some((entry) => isPlainObject(entry) && ('value' in entry || 'reference' in entry));
  return armShaped ? readParameterValues(json) : { values: { ...json }, errors: [] };
}
