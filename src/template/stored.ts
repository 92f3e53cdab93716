/**
 * Templates as files in container `templates` (stored by PUT /templates or dropped by a user): which blob names are
 * templates and which hold values beside one, and how such a set of files loads into a BakeSpec.
 */

import { describe } from './errors.ts';
import { parameterValuesOf } from './arm/parameters.ts';
import { loadTemplate, type LoadOptions, type LoadResult } from './load.ts';
import { failResult } from './parse.ts';
import type { TemplateError } from './spec.ts';

/** What a blob in container `templates` is, by its name. */
export type TemplateFileRole =
  | { role: 'template'; name: string; format: 'json' | 'hcl' }
  /** `{name}.parameters.json`: ARM parameter values, or a Packer template's variables, for template `name`. */
  | { role: 'parameters'; name: string }
  /** `{name}.pkrvars.hcl`: variable values for the Packer HCL2 template `name`. */
  | { role: 'variables'; name: string };

/** The accepted file names, said in errors and docs. */
export const TEMPLATE_FILE_NAMES = 'NAME.json or NAME.pkr.hcl (values beside it: NAME.parameters.json, NAME.pkrvars.hcl)';

/** The blob names one template's files have. */
export function templateFileNames(name: string): { json: string; hcl: string; parameters: string; variables: string } {
  return { json: `${name}.json`, hcl: `${name}.pkr.hcl`, parameters: `${name}.parameters.json`, variables: `${name}.pkrvars.hcl` };
}

/** The role of a blob by its name; undefined for a name Kiln does not read. Values files are matched first. */
export function templateFileRole(blobName: string): TemplateFileRole | undefined {
  const suffixes: [RegExp, (name: string) => TemplateFileRole][] = [
    [/\.parameters\.json$/i, (name) => ({ role: 'parameters', name })],
    [/\.pkrvars\.hcl$/i, (name) => ({ role: 'variables', name })],
    [/\.pkr\.hcl$/i, (name) => ({ role: 'template', name, format: 'hcl' })],
    [/\.json$/i, (name) => ({ role: 'template', name, format: 'json' })],
  ];
  for (const [suffix, role] of suffixes) {
    const match = suffix.exec(blobName);
    if (match && match.index > 0) return role(blobName.slice(0, match.index));
  }
  return undefined;
}

/** A name whose files read back as that template's: `web.parameters` would be the parameters of `web`. */
export function isTemplateName(name: string): boolean {
  const role = templateFileRole(templateFileNames(name).json);
  return role?.role === 'template' && role.name === name;
}

/** One template's files: the template itself and the values files beside it, as text. */
export interface TemplateFiles {
  /** The template's blob name: `web.json` or `web.pkr.hcl`. */
  file: string;
  text: string;
  /** The text of `web.parameters.json`. */
  parameters?: string;
  /** The text of `web.pkrvars.hcl`. */
  variables?: string;
}

/** Bytes as UTF-8 text; a file that is not (a binary, another encoding) is a named error rather than mojibake. */
export function utf8Text(file: string, bytes: Uint8Array): { text: string } | { error: TemplateError } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { error: { path: file, message: `${file} is not UTF-8 text`, expected: 'a template as UTF-8 text', found: `${bytes.length} bytes of something else` } };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Values given as JSON (a values file's text or an object), read as ARM's forms or plain values; errors point at `at`. */
function valuesOf(json: unknown, at: string): { values: Record<string, unknown>; errors: TemplateError[] } {
  const read = parameterValuesOf(json);
  return { values: read.values, errors: read.errors.map((e) => ({ ...e, path: e.path === '$' ? at : `${at}: ${e.path}` })) };
}

function valuesFileOf(text: string | undefined, file: string): { values?: Record<string, unknown>; errors: TemplateError[] } {
  if (text === undefined) return { errors: [] };
  try {
    return valuesOf(JSON.parse(text.replace(/^\uFEFF/, '')), file);
  } catch (error) {
    return { errors: [{ path: file, message: `not valid JSON: ${(error as Error).message}`, expected: 'a parameters file (JSON)' }] };
  }
}

const HCL_IN_JSON_MEMBERS = ['template', 'parameters', 'variables'];

/** A Packer HCL2 template carried in JSON, with its values; what PUT /templates takes, and a dropped NAME.json may hold. */
export interface HclInJson {
  template: string;
  parameters?: Record<string, unknown>;
  variables?: string;
  errors: TemplateError[];
}

/**
 * `{ "template": "<HCL2 text>", "parameters"?: { "name": value }, "variables"?: "<.pkrvars.hcl text>" }`; undefined
 * for anything else (a JSON template, whose `template` member would be an object).
 */
export function hclInJson(json: unknown): HclInJson | undefined {
  if (!isObject(json) || typeof json.template !== 'string') return undefined;
  const errors: TemplateError[] = [];
  for (const key of Object.keys(json).filter((k) => !HCL_IN_JSON_MEMBERS.includes(k))) {
    errors.push({ path: key, message: `unexpected member ${key} beside an HCL2 template`, expected: HCL_IN_JSON_MEMBERS.join(', ') });
  }
  if (json.parameters !== undefined && !isObject(json.parameters)) {
    errors.push({ path: 'parameters', message: 'expected variable values by name', expected: '{ "name": value }', found: describe(json.parameters) });
  }
  if (json.variables !== undefined && typeof json.variables !== 'string') {
    errors.push({ path: 'variables', message: 'expected the text of a .pkrvars.hcl file', expected: 'a string', found: describe(json.variables) });
  }
  return {
    template: json.template,
    ...(isObject(json.parameters) ? { parameters: json.parameters } : {}),
    ...(typeof json.variables === 'string' ? { variables: json.variables } : {}),
    errors,
  };
}

function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
}

/**
 * Loads a stored or dropped template with the values beside it: `.parameters.json` as the parameters (for any
 * shape; over a `parameters` member inside the template; the caller's own win over both), `.pkrvars.hcl` as a
 * Packer HCL2 variables file. A `NAME.json` holding `{ "template": "<HCL2 text>", … }` is read as that HCL2 template.
 */
export async function loadTemplateFiles(files: TemplateFiles, options: LoadOptions = {}): Promise<LoadResult> {
  const role = templateFileRole(files.file);
  if (role?.role !== 'template') {
    return failResult([{ path: files.file, message: `Kiln reads templates named ${TEMPLATE_FILE_NAMES}`, expected: TEMPLATE_FILE_NAMES, found: describe(files.file) }]);
  }
  const names = templateFileNames(role.name);
  const beside = valuesFileOf(files.parameters, names.parameters);
  const errors = [...beside.errors];
  const hcl = role.format === 'json' ? hclInJson(jsonOrUndefined(files.text)) : undefined;
  const inside = hcl?.parameters ? valuesOf(hcl.parameters, `${files.file}: parameters`) : undefined;
  if (hcl) errors.push(...hcl.errors.map((e) => ({ ...e, path: `${files.file}: ${e.path}` })), ...(inside?.errors ?? []));
  const isHcl = role.format === 'hcl' || hcl !== undefined;
  if (files.variables !== undefined && !isHcl) {
    errors.push({
      path: names.variables,
      message: `a .pkrvars.hcl file gives values to a Packer HCL2 template (${names.hcl}); for ${files.file} put them in ${names.parameters}`,
      expected: `${names.hcl} beside it`,
      found: files.file,
    });
  }
  if (errors.length > 0) return failResult(errors);
  const variableFiles = [
    ...(hcl?.variables !== undefined ? [{ path: `${files.file}: variables`, text: hcl.variables }] : []),
    ...(files.variables !== undefined ? [{ path: names.variables, text: files.variables }] : []),
  ];
  const values = inside || beside.values ? { ...inside?.values, ...beside.values } : undefined;
  // HCL2 carried in JSON is read as NAME.pkr.hcl: the name says it is HCL2, and its errors point into that text.
  return loadTemplate(hcl ? { path: names.hcl, text: hcl.template } : { path: files.file, text: files.text }, {
    ...options,
    ...(values ? { parameters: { ...values, ...options.parameters } } : {}),
    ...(variableFiles.length > 0 ? { variableFiles } : {}),
  });
}
