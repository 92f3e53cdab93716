/** Request validation with Azure's error codes: every message names the field, what was expected and what was found. */
import { errors } from './errors.ts';
import { checkLocation } from './regions.ts';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The request body as an object, or 400 InvalidRequestContent. */
export function bodyObject(body: unknown): Json {
  if (!isObject(body)) {
    throw errors.undeserializableContent(`expected a JSON object, found ${body === undefined ? 'no body' : JSON.stringify(body).slice(0, 60)}`);
  }
  return body;
}

export function objectAt(parent: Json, field: string, path = field): Json | undefined {
  const value = parent[field];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw errors.invalidParameter(path, `Property '${path}' must be an object, found ${JSON.stringify(value).slice(0, 60)}.`);
  return value;
}

export function stringAt(parent: Json, field: string, path = field): string | undefined {
  const value = parent[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw errors.invalidParameter(path, `Property '${path}' must be a string, found ${JSON.stringify(value).slice(0, 60)}.`);
  return value;
}

export function requiredString(parent: Json, field: string, path = field): string {
  const value = stringAt(parent, field, path);
  if (value === undefined || value === '') {
    throw errors.requiredParameterMissing(path);
  }
  return value;
}

/** The body's location as an ARM region name; a region the catalogue lacks is refused for `resourceType`. */
export function requiredLocation(body: Json, resourceType = 'the requested resource type'): string {
  const location = stringAt(body, 'location');
  if (!location) throw errors.locationRequired();
  return checkLocation(location, resourceType);
}

export function tagsOf(body: Json): Record<string, string> | undefined {
  const tags = objectAt(body, 'tags');
  if (!tags) return undefined;
  for (const [key, value] of Object.entries(tags)) {
    if (typeof value !== 'string') throw errors.invalidParameter(`tags.${key}`, `Tag '${key}' must have a string value, found ${JSON.stringify(value)}.`);
  }
  return tags as Record<string, string>;
}

export function arrayAt(parent: Json, field: string, path = field): unknown[] | undefined {
  const value = parent[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw errors.invalidParameter(path, `Property '${path}' must be an array, found ${JSON.stringify(value).slice(0, 60)}.`);
  return value;
}

const NAME_RULES: Record<string, { pattern: RegExp; rule: string }> = {
  resourceGroup: { pattern: /^[-\w.()]{0,89}[-\w()]$/u, rule: '1–90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period' },
  virtualMachine: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,62}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/, rule: '1–64 letters, digits, hyphens, underscores and periods, starting with a letter or digit and not ending in a hyphen or period' },
  scaleSet: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,62}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/, rule: '1–64 letters, digits, hyphens, underscores and periods, starting with a letter or digit' },
  gallery: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9_.]{0,78}[a-zA-Z0-9]$|^[a-zA-Z0-9]$/, rule: '1–80 letters, digits, underscores and periods, starting and ending with a letter or digit' },
  galleryImage: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,78}[a-zA-Z0-9]$|^[a-zA-Z0-9]$/, rule: '1–80 letters, digits, hyphens, underscores and periods, starting and ending with a letter or digit' },
  image: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,78}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/, rule: '1–80 letters, digits, hyphens, underscores and periods' },
  runCommand: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,78}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/, rule: '1–80 letters, digits, hyphens, underscores and periods' },
  network: { pattern: /^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,78}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/, rule: '1–80 letters, digits, hyphens, underscores and periods, ending with a letter, digit or underscore' },
};

export function validateName(kind: keyof typeof NAME_RULES, name: string): void {
  const rules = NAME_RULES[kind]!;
  if (!rules.pattern.test(name)) {
    throw errors.invalidResourceName(kind, name, rules.rule);
  }
}

const MAX_INT32 = 2_147_483_647;

/** Gallery image version names: Major.Minor.Patch, digits only, each part a 32-bit integer. */
export function parseVersionName(name: string): [number, number, number] {
  const parts = /^(\d+)\.(\d+)\.(\d+)$/.exec(name);
  const numbers = parts ? [Number(parts[1]), Number(parts[2]), Number(parts[3])] : [];
  if (!parts || numbers.some((n) => n > MAX_INT32)) {
    throw errors.invalidGalleryImageVersionName(name, MAX_INT32);
  }
  return numbers as [number, number, number];
}

export function compareVersions(a: string, b: string): number {
  const pa = parseVersionName(a);
  const pb = parseVersionName(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}
