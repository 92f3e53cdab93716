/**
 * Packer as one of the template loader's input formats (the HTTP API, the blob drop, stored templates): a Packer
 * JSON document, or HCL2 text named *.pkr.hcl. There are no local files on a server, so a template that names one is
 * refused with a pointer to the CLI, which uploads them.
 */

import { parameterValuesOf } from '../arm/parameters.ts';
import { convertPacker, isPackerHclPath, isPackerJson, templateNameOf } from './index.ts';

/** What the loader hands a format (structurally the loader's TemplateInput). */
export interface PackerFormatInput {
  path?: string;
  text?: string;
  json?: unknown;
}

/** The loader's options a Packer template reads: `parameters` are its variables. */
export interface PackerFormatOptions {
  parameters?: Record<string, unknown>;
  subscriptionId?: string;
  location?: string;
  name?: string;
  variableFiles?: { path: string; text: string }[];
}

export type PackerFormatConversion =
  | { ok: true; shape: string; template: Record<string, unknown>; warnings: { path: string; message: string }[] }
  | { ok: false; shape: string; errors: { path: string; message: string }[] };

const SHAPE = 'Packer template';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{ "template": <Packer JSON>, "parameters"?: {…}, "location"?: … }`: the API's and blob drop's way to give variables. */
function wrapped(json: unknown): { template: Record<string, unknown>; parameters: Record<string, unknown>; errors: { path: string; message: string }[]; location?: string } | undefined {
  if (!isObject(json) || !isPackerJson(json.template)) return undefined;
  if (!Object.keys(json).every((k) => ['template', 'parameters', 'location'].includes(k))) return undefined;
  // ARM's `{ name: { value } }` or plain `{ name: value }`.
  const read = isObject(json.parameters) ? parameterValuesOf(json.parameters) : { values: {}, errors: [] };
  const errors = read.errors.map((e) => ({ ...e, path: e.path === '$' ? 'parameters' : `parameters.${e.path}` }));
  return { template: json.template, parameters: read.values, errors, ...(typeof json.location === 'string' ? { location: json.location } : {}) };
}

export const packerFormat = {
  shape: SHAPE,
  claims(input: PackerFormatInput): boolean {
    return isPackerJson(input.json) || wrapped(input.json) !== undefined || (input.path !== undefined && input.text !== undefined && isPackerHclPath(input.path));
  },
  async convert(given: PackerFormatInput, givenOptions: PackerFormatOptions): Promise<PackerFormatConversion> {
    const beside = wrapped(given.json);
    if (beside && beside.errors.length > 0) return { ok: false, shape: SHAPE, errors: beside.errors };
    // The caller's own options win over what sits beside the template.
    const input = beside ? { ...given, json: beside.template, text: undefined } : given;
    const options = beside
      ? { ...givenOptions, parameters: { ...beside.parameters, ...givenOptions.parameters }, ...(givenOptions.location ?? beside.location ? { location: givenOptions.location ?? beside.location } : {}) }
      : givenOptions;
    const json = isPackerJson(input.json);
    const path = input.path && (json ? !isPackerHclPath(input.path) : true) ? input.path : `${givenOptions.name ?? 'template'}.json`;
    const text = input.text ?? JSON.stringify(input.json, null, 2);
    const vars = Object.fromEntries(Object.entries(options.parameters ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const result = await convertPacker({ files: [{ path, text }], vars, ...(options.variableFiles ? { varFiles: options.variableFiles } : {}) }, {
      ...(options.subscriptionId ? { subscriptionId: options.subscriptionId } : {}),
      ...(options.location ? { location: options.location } : {}),
      name: options.name ?? templateNameOf(path),
    });
    if (!result.ok) return { ok: false, shape: SHAPE, errors: result.errors.map((e) => ({ path: e.at, message: `${e.message} (${e.code})` })) };
    // What Kiln did not carry over is said once per line; what it mapped needs no warning.
    const warnings = result.notes.filter((n) => n.kind !== 'mapped').map((n) => ({ path: n.at, message: `${n.what}: ${n.kind}, ${n.message}` }));
    return { ok: true, shape: SHAPE, template: result.template, warnings };
  },
};
