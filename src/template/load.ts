/**
 * Template loading, the one entry point for every input shape: detect what the input is (an AIB imageTemplate
 * resource or its properties, an ARM deployment template, or a format a converter claims), turn it into one AIB
 * imageTemplate resource, then validate and normalize that into a BakeSpec.
 */

import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { armDeployment } from './arm/deployment.ts';
import { packerFormat } from './packer/format.ts';
import { depthError } from './depth.ts';
import { describe } from './errors.ts';
import { MAX_TEMPLATE_BYTES, failResult, parseTemplate, type ParseOptions } from './parse.ts';
import type { ParseResult, TemplateError, TemplateWarning } from './spec.ts';

/** What the loader was given. A converter reads what it needs; `json` is set whenever `text` is JSON. */
export interface TemplateInput {
  /** The file or directory path (CLI), or the blob/template name (API); detection may look at its extension. */
  path?: string;
  /** The raw text of a file or blob. */
  text?: string;
  /** The input as JSON: given by the HTTP API, or parsed from `text` when `text` is JSON. */
  json?: unknown;
}

/** Values from outside the template that a shape may need: ARM parameters, the target resource, the location. */
export interface LoadOptions extends ParseOptions {
  /** Parameter values by name (`--param name=value`, a parameters file, the API's `parameters` object). */
  parameters?: Record<string, unknown>;
  /** Which imageTemplates resource to bake when an ARM deployment template holds several (`--resource NAME`). */
  resource?: string;
  /** The subscription `subscription()` and `resourceId()` resolve to in ARM expressions. */
  subscriptionId?: string;
  /** The resource group `resourceGroup()` and `resourceId()` resolve to in ARM expressions. */
  resourceGroup?: string;
  /** Packer HCL2 variables files (`*.pkrvars.hcl`) given beside the template text. */
  variableFiles?: { path: string; text: string }[];
}

/** One converted input: the AIB imageTemplate resource it became, and what the conversion noticed on the way. */
export type Conversion =
  | {
      ok: true;
      shape: string;
      template: Record<string, unknown>;
      warnings: TemplateWarning[];
      /** Where the resource sits in the input (e.g. `resources[0]`): errors found in it are reported there. */
      pathPrefix?: string;
    }
  | { ok: false; shape: string; errors: TemplateError[] };

/** An input format Kiln turns into an AIB imageTemplate resource. `claims` must be cheap and never throw. */
export interface TemplateFormat {
  /** The shape's name, shown by `kiln validate` and `kiln convert` (e.g. "ARM deployment template"). */
  shape: string;
  claims(input: TemplateInput): boolean;
  convert(input: TemplateInput, options: LoadOptions): Conversion | Promise<Conversion>;
}

/** Every converting format, asked in order; an input none claims is read as AIB JSON. Add a converter here. */
// Packer first: a Packer template wrapped with its parameters would otherwise look like an ARM wrapper.
const FORMATS: readonly TemplateFormat[] = [packerFormat, armDeployment];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The AIB shapes themselves: the bare resource (either type spelling) or its `properties` alone. */
function aibShape(json: unknown): string {
  return isObject(json) && 'properties' in json ? 'AIB imageTemplate resource' : 'AIB imageTemplate properties';
}

/** Reads the input's JSON from its text when only the text was given; a text that is not JSON stays text. */
function withJson(input: TemplateInput): { input: TemplateInput; jsonError?: string } {
  if (input.json !== undefined || input.text === undefined) return { input };
  const body = input.text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return { input, jsonError: 'template is empty' };
  try {
    return { input: { ...input, json: JSON.parse(body) } };
  } catch (error) {
    return { input, jsonError: `not valid JSON: ${(error as Error).message}` };
  }
}

/** Turns any input into the AIB imageTemplate resource (or properties) it means, without validating that. */
export async function convertTemplate(given: TemplateInput, options: LoadOptions = {}): Promise<Conversion> {
  if (given.text !== undefined) {
    const bytes = Buffer.byteLength(given.text, 'utf8');
    if (bytes > MAX_TEMPLATE_BYTES) return { ok: false, shape: 'template', errors: tooBig(bytes) };
  }
  const { input, jsonError } = withJson(given);
  const tooDeep = depthError(input.json);
  if (tooDeep) return { ok: false, shape: 'template', errors: [tooDeep] };
  const format = FORMATS.find((f) => f.claims(input));
  if (format) return format.convert(input, options);
  if (input.json === undefined) {
    const message = jsonError ?? 'nothing to read';
    const found = message === 'template is empty' ? { expected: 'a JSON object', found: 'an empty file' } : {};
    return { ok: false, shape: 'template', errors: [{ path: '$', message, ...found }] };
  }
  if (!isObject(input.json)) {
    const message = 'must be a JSON object: an imageTemplate resource, its properties, or an ARM deployment template';
    return { ok: false, shape: 'template', errors: [{ path: '$', message, expected: 'an object', found: describe(input.json) }] };
  }
  return { ok: true, shape: aibShape(input.json), template: input.json, warnings: unusedValues(options) };
}

/** Values given for a template that has nothing to give them to (an AIB template has no parameters): said, not dropped silently. */
function unusedValues(options: LoadOptions): TemplateWarning[] {
  const names = Object.keys(options.parameters ?? {});
  const warnings: TemplateWarning[] = [];
  if (names.length > 0) warnings.push({ path: 'parameters', message: `an AIB template has no parameters; the values given for ${names.join(', ')} are not used` });
  for (const file of options.variableFiles ?? []) warnings.push({ path: file.path, message: 'an AIB template has no variables; this variables file is not used' });
  return warnings;
}

function tooBig(bytes: number): TemplateError[] {
  return [{
    path: '$',
    message: `template is ${bytes} bytes; Kiln's limit is ${MAX_TEMPLATE_BYTES} bytes`,
    expected: `at most ${MAX_TEMPLATE_BYTES} bytes`,
    found: `${bytes} bytes`,
  }];
}

/** A path inside the converted resource, as a path in the input: `resources[0]` + `properties.x` = `resources[0].properties.x`. */
function within(prefix: string, path: string): string {
  if (path === '$') return prefix;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

/**
 * A loaded template: the BakeSpec, plus the AIB imageTemplate resource the input became (its location filled in
 * from the options when the input had none), which is what a client sends to a Kiln that lacks the input's context.
 */
export type LoadResult =
  | (Extract<ParseResult, { ok: true }> & { shape: string; template: Record<string, unknown> })
  | Extract<ParseResult, { ok: false }>;

/** The converted resource, complete: a properties-only template becomes a resource with the location given beside it. */
function completed(template: Record<string, unknown>, options: LoadOptions): Record<string, unknown> {
  const isResource = 'properties' in template;
  if (isResource) return template.location === undefined && options.location ? { ...template, location: options.location } : template;
  return { ...(options.location ? { location: options.location } : {}), properties: template };
}

/** Converts, validates and normalizes any input: the one way a template becomes a BakeSpec. */
export async function loadTemplate(input: TemplateInput, options: LoadOptions = {}): Promise<LoadResult> {
  const converted = await convertTemplate(input, options);
  if (!converted.ok) return failResult(converted.errors);
  const parsed = parseTemplate(converted.template, options);
  const at = <T extends { path: string }>(item: T): T => (converted.pathPrefix ? { ...item, path: within(converted.pathPrefix, item.path) } : item);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map(at) };
  return {
    ...parsed,
    warnings: [...converted.warnings, ...parsed.warnings.map(at)],
    shape: converted.shape,
    template: completed(converted.template, options),
  };
}

/** Reads a template file (or a directory a converter claims) and loads it; unreadable input is an error, never a throw. */
export async function loadTemplateFile(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const named = { ...options, fallbackName: options.fallbackName ?? basename(path, extname(path)) };
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      const input = { path };
      if (FORMATS.some((f) => f.claims(input))) return loadTemplate(input, named);
      return failResult([{ path: '$', message: `cannot read ${path}: not a file` }]);
    }
    if (!info.isFile()) return failResult([{ path: '$', message: `cannot read ${path}: not a file` }]);
    if (info.size > MAX_TEMPLATE_BYTES) return failResult(tooBig(info.size));
    return loadTemplate({ path, text: await readFile(path, 'utf8') }, named);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return failResult([{ path: '$', message: `cannot read ${path}: ${reason}` }]);
  }
}
