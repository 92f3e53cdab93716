/** Validates one AIB imageTemplate (the whole resource, or its `properties` alone) and normalizes it into a BakeSpec. */

import { depthError } from './depth.ts';
import { describe, fromZod } from './errors.ts';
import { normalizeRegion, TEMPLATE_NAME, TEMPLATE_NAME_EXPECTED } from './fields.ts';
import { normalize } from './normalize.ts';
import { dropReadOnly } from './read-only.ts';
import { crossFieldErrors } from './rules.ts';
import { FIELD_NAMES, LIMITS, propertiesSchema, resourceSchema } from './schema.ts';
import type { ParseResult, TemplateError } from './spec.ts';

/** More errors than this are summarized in one last error, so a broken 1 MB file gives a readable answer. */
export const MAX_ERRORS = 100;
export const MAX_TEMPLATE_BYTES = LIMITS.maxTemplateBytes;

export interface ParseOptions {
  /** The template's name; wins over the resource's `name`. */
  name?: string;
  /** The name used when neither `name` nor the resource's `name` is given (e.g. the file name). */
  fallbackName?: string;
  /** The region to build in when the template gives none (`--location`); a template's own location wins. */
  location?: string;
}

export function failResult(errors: TemplateError[]): ParseResult & { ok: false } {
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
export function parseTemplate(given: unknown, options: ParseOptions = {}): ParseResult {
  if (!isObject(given)) {
    return failResult([{ path: '$', message: 'must be a JSON object: an imageTemplate resource or its properties', expected: 'an object', found: describe(given) }]);
  }
  const tooDeep = depthError(given);
  if (tooDeep) return failResult([tooDeep]);
  const isResource = 'properties' in given;
  const { template: json, warnings } = dropReadOnly(given, isResource);
  const prefix = isResource ? ['properties'] : [];
  const props = isResource ? json.properties : json;
  if (isObject(props)) {
    const limited = limitErrors(props, isResource ? 'properties.' : '');
    if (limited.length > 0) return failResult(limited);
  }

  const parsed = isResource
    ? resourceSchema.safeParse(json, { reportInput: true })
    : propertiesSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) return failResult(fromZod(parsed.error, [], FIELD_NAMES));
  const resource = isResource ? resourceSchema.parse(json) : undefined;
  const properties = resource ? resource.properties : propertiesSchema.parse(json);

  const errors: TemplateError[] = [];
  const name = options.name ?? resource?.name ?? options.fallbackName ?? 'template';
  if (!TEMPLATE_NAME.test(name)) {
    errors.push({ path: 'name', message: 'must be a template name', expected: TEMPLATE_NAME_EXPECTED, found: describe(name) });
  }
  // AIB requires a location; Kiln never guesses one, so a properties-only template needs --location.
  const location = resource?.location ?? options.location;
  if (resource?.location === undefined && options.location !== undefined && !/^[a-z][a-z0-9]*$/.test(normalizeRegion(options.location))) {
    errors.push({ path: 'location', message: 'the location given beside the template must be an Azure region name', expected: 'a region such as eastus', found: describe(options.location) });
  }
  if (location === undefined) {
    errors.push({
      path: isResource ? 'location' : '$',
      message: 'needs a location: the region to build in (a properties-only template takes it from --location)',
      expected: 'a region such as eastus',
      found: 'nothing',
    });
  }
  errors.push(...crossFieldErrors(properties, prefix, location));
  if (errors.length > 0 || location === undefined) return failResult(errors);
  return {
    ok: true,
    spec: normalize(properties, { name, location, ...(resource?.tags ? { tags: resource.tags } : {}) }),
    warnings,
  };
}
