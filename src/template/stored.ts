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

function parametersOf(files: TemplateFiles): { values?: Record<string, unknown>; errors: TemplateError[] } {
  if (files.parameters === undefined) return { errors: [] };
  const file = templateFileNames(templateFileRole(files.file)?.name ?? '').parameters;
  let json: unknown;
  try {
    json = JSON.parse(files.parameters.replace(/^\uFEFF/, ''));
  } catch (error) {
    return { errors: [{ path: file, message: `not valid JSON: ${(error as Error).message}`, expected: 'a parameters file (JSON)' }] };
  }
  const read = parameterValuesOf(json);
  return { values: read.values, errors: read.errors.map((e) => ({ ...e, path: e.path === '$' ? file : `${file}: ${e.path}` })) };
}

/**
 * Loads a stored or dropped template with the values beside it: `.parameters.json` as the parameters (for any
 * shape; over a `parameters` member inside the template; the caller's own win over both), `.pkrvars.hcl` as a
 * Packer HCL2 variables file.
 */
export async function loadTemplateFiles(files: TemplateFiles, options: LoadOptions = {}): Promise<LoadResult> {
  const role = templateFileRole(files.file);
  if (role?.role !== 'template') {
    return failResult([{ path: files.file, message: `Kiln reads templates named ${TEMPLATE_FILE_NAMES}`, expected: TEMPLATE_FILE_NAMES, found: describe(files.file) }]);
  }
  const { values, errors } = parametersOf(files);
  if (files.variables !== undefined && role.format !== 'hcl') {
    const variables = templateFileNames(role.name).variables;
    errors.push({
      path: variables,
      message: `a .pkrvars.hcl file gives values to a Packer HCL2 template (${role.name}.pkr.hcl); for ${files.file} put them in ${templateFileNames(role.name).parameters}`,
      expected: `${role.name}.pkr.hcl beside it`,
      found: files.file,
    });
  }
  if (errors.length > 0) return failResult(errors);
  return loadTemplate({ path: files.file, text: files.text }, {
    ...options,
    ...(values ? { parameters: { ...values, ...options.parameters } } : {}),
    ...(files.variables !== undefined ? { variableFiles: [{ path: templateFileNames(role.name).variables, text: files.variables }] } : {}),
  });
}
