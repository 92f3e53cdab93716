/** Template entry points: JSON value, text or file in; a normalized BakeSpec or every error out. */

import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { describe, fromZod } from './errors.ts';
import { TEMPLATE_NAME, TEMPLATE_NAME_EXPECTED } from './fields.ts';
import { normalize } from './normalize.ts';
import { crossFieldErrors } from './rules.ts';
import { LIMITS, propertiesSchema, resourceSchema } from './schema.ts';
import type { ParseResult, TemplateError } from './spec.ts';

export type * from './spec.ts';
export { LIMITS } from './schema.ts';
export { parseArmId, parseArmIdOf, type ArmId } from './arm-id.ts';

/** More errors than this are summarized in one last error, so a broken 1 MB file gives a readable answer. */
export const MAX_ERRORS = 100;

export interface ParseOptions {
  /** The template's name; wins over the resource's `name`. */
  name?: string;
  /** The name used when neither `name` nor the resource's `name` is given (e.g. the file name). */
  fallbackName?: string;
}

function fail(errors: TemplateError[]): ParseResult {
  if (errors.length <= MAX_ERRORS) return { ok: false, errors };
  const rest = errors.length - MAX_ERRORS;
  return { ok: false, errors: [...errors.slice(0, MAX_ERRORS), { path: '$', message: `and ${rest} more error${rest === 1 ? '' : 's'}` }] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the counts with a stated limit before the schema walks them, so a huge list costs nothing. */
function limitErrors(props: Record<string, unknown>, prefix: string): TemplateError[] {
  const customize = props.customize;
  if (Array.isArray(customize) && customize.length > LIMITS.maxCustomizers) {
    return [{
      path: `${prefix}customize`,
      message: `has ${customize.length} customizers; Kiln's limit is ${LIMITS.maxCustomizers}`,
      expected: `at most ${LIMITS.maxCustomizers} customizers`,
      found: String(customize.length),
    }];
  }
  return [];
}

/** Validates an imageTemplate — the whole resource, or just its `properties` — and normalizes it. */
export function parseTemplate(json: unknown, options: ParseOptions = {}): ParseResult {
  if (!isObject(json)) {
    return fail([{ path: '$', message: 'must be a JSON object: an imageTemplate resource or its properties', expected: 'an object', found: describe(json) }]);
  }
  const isResource = 'properties' in json;
  const prefix = isResource ? ['properties'] : [];
  const props = isResource ? json.properties : json;
  if (isObject(props)) {
    const limited = limitErrors(props, isResource ? 'properties.' : '');
    if (limited.length > 0) return fail(limited);
  }

  const parsed = isResource
    ? resourceSchema.safeParse(json, { reportInput: true })
    : propertiesSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) return fail(fromZod(parsed.error));
  const resource = isResource ? resourceSchema.parse(json) : undefined;
  const properties = resource ? resource.properties : propertiesSchema.parse(json);

  const errors: TemplateError[] = [];
  const name = options.name ?? resource?.name ?? options.fallbackName ?? 'template';
  if (!TEMPLATE_NAME.test(name)) {
    errors.push({ path: 'name', message: 'must be a template name', expected: TEMPLATE_NAME_EXPECTED, found: describe(name) });
  }
  errors.push(...crossFieldErrors(properties, prefix));
  if (errors.length > 0) return fail(errors);
  return {
    ok: true,
    spec: normalize(properties, {
      name,
      ...(resource?.location ? { location: resource.location } : {}),
      ...(resource?.tags ? { tags: resource.tags } : {}),
    }),
  };
}

function tooBig(bytes: number): ParseResult {
  return fail([{
    path: '$',
    message: `template is ${bytes} bytes; Kiln's limit is ${LIMITS.maxTemplateBytes} bytes`,
    expected: `at most ${LIMITS.maxTemplateBytes} bytes`,
    found: `${bytes} bytes`,
  }]);
}

/** Parses template text (JSON); the size limit is checked before parsing. */
export function parseTemplateText(text: string, options: ParseOptions = {}): ParseResult {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.maxTemplateBytes) return tooBig(bytes);
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return fail([{ path: '$', message: 'template is empty', expected: 'a JSON object', found: 'an empty file' }]);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return fail([{ path: '$', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  return parseTemplate(json, options);
}

/** Reads and parses a template file; a file over the size limit is refused unread, an unreadable one is an error. */
export async function parseTemplateFile(path: string, options: ParseOptions = {}): Promise<ParseResult> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) return fail([{ path: '$', message: `cannot read ${path}: not a file` }]);
    if (info.size > LIMITS.maxTemplateBytes) return tooBig(info.size);
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return fail([{ path: '$', message: `cannot read ${path}: ${reason}` }]);
  }
  const fallbackName = options.fallbackName ?? basename(path, extname(path));
  return parseTemplateText(text, { ...options, fallbackName });
}
