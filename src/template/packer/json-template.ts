/** Reads a legacy Packer JSON template: `{{user}}`, `{{env}}`, `{{timestamp}}`, `{{uuid}}` resolved; blocks located by line. */

import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { isUnreadField, OPTIONAL_FIELDS } from './credentials.ts';
import { fieldFinder, lineOf } from './locate.ts';
import { PackerConversionError, refuse, type EnvironmentRead, type Location, type PackerBlock, type PackerTemplate } from './model.ts';

export interface JsonReadOptions {
  /** `--var name=value` and `--var-file` values; they win over the template's defaults. */
  vars: Record<string, string>;
  env: Record<string, string | undefined>;
  /** Collects each `{{env}}` read of a set environment variable. */
  environment: EnvironmentRead[];
  /** `{{pwd}}`: the CLI's working directory; absent on a server, where {{pwd}} is refused. */
  cwd?: string;
  /** When the conversion runs (one `{{timestamp}}` for the whole template, as Packer does). */
  now: Date;
  name: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go's reference-time layout (as `{{isotime "2006-01-02"}}` takes it) for the common parts. */
function goTime(layout: string, at: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const parts: Record<string, string> = {
    '2006': String(at.getUTCFullYear()), '01': pad(at.getUTCMonth() + 1), '02': pad(at.getUTCDate()),
    '15': pad(at.getUTCHours()), '04': pad(at.getUTCMinutes()), '05': pad(at.getUTCSeconds()),
  };
  return layout.replace(/2006|01|02|15|04|05/g, (token) => parts[token]!);
}

export class Interpolator {
  /** The variables being resolved, innermost last (a set, for cycles, keeps insertion order). */
  #resolving = new Set<string>();
  #resolved = new Map<string, string>();
  readonly #variables: Record<string, unknown>;
  readonly #options: JsonReadOptions;
  readonly #templateDir: string;
  readonly #variablesAt: (name: string) => Location;
  readonly #sensitive: ReadonlySet<string>;

  constructor(variables: Record<string, unknown>, options: JsonReadOptions, templateDir: string, variablesAt: (name: string) => Location, sensitive: ReadonlySet<string> = new Set()) {
    this.#variables = variables;
    this.#sensitive = sensitive;
    this.#options = options;
    this.#templateDir = templateDir;
    this.#variablesAt = variablesAt;
  }

  user(name: string, at: Location): string {
    // Outside the credential fields a value lands in the stored template and the run record: no place for a secret.
    if (this.#sensitive.has(name)) refuse('SensitiveVariable', at, `{{user \`${name}\`}} is in "sensitive-variables": Kiln keeps secrets in Key Vault; name it in the template's "secrets" and read it from the environment in the script`);
    const known = this.#resolved.get(name);
    if (known !== undefined) return known;
    if (name in this.#options.vars) return this.#options.vars[name]!;
    if (!(name in this.#variables)) refuse('UndefinedVariable', at, `{{user \`${name}\`}}: no variable "${name}" is declared in "variables"`);
    const raw = this.#variables[name];
    if (raw === null || raw === undefined) refuse('MissingVariable', this.#variablesAt(name), `variable "${name}" is required and has no value: give --var ${name}=VALUE or a --var-file`);
    if (this.#resolving.has(name)) refuse('VariableCycle', this.#variablesAt(name), `variable "${name}" refers to itself`);
    this.#resolving.add(name);
    const value = this.string(String(raw), this.#variablesAt(name), {});
    this.#resolving.delete(name);
    this.#resolved.set(name, value);
    return value;
  }

  /** Resolves every `{{ … }}` in one string; runtime fields such as `{{ .Path }}` are left for Kiln to read. */
  string(text: string, at: Location, build: { name?: string; type?: string }): string {
    return text.replace(/\{\{-?\s*(.*?)\s*-?\}\}/gs, (whole, action: string) => {
      if (action.startsWith('.')) return whole;
      const m = /^([a-z_]+)\s*(?:[`"]([^`"]*)[`"])?$/.exec(action);
      const fn = m?.[1];
      const arg = m?.[2];
      switch (fn) {
        case 'user': return this.user(arg ?? '', at);
        case 'env': return this.#env(arg ?? '', at);
        case 'timestamp': return String(Math.floor(this.#options.now.getTime() / 1000));
        case 'uuid': return randomUUID();
        case 'isotime': return arg ? goTime(arg, this.#options.now) : this.#options.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
        case 'build_name': return build.name ?? build.type ?? '';
        case 'build_type': return build.type ?? '';
        case 'template_dir': return this.#templateDir;
        case 'pwd': return this.#options.cwd ?? refuse('UnsupportedTemplateFunction', at, `"${whole}": a template sent to Kiln has no working directory; give the value as a variable`);
        default: return refuse('UnsupportedTemplateFunction', at, `"${whole}": Kiln resolves {{user}}, {{env}}, {{timestamp}}, {{uuid}}, {{isotime}}, {{build_name}}, {{build_type}}, {{template_dir}} and {{pwd}}`);
      }
    });
  }

  #env(name: string, at: Location): string {
    const value = this.#options.env[name];
    if (value === undefined) return '';
    const variable = [...this.#resolving].at(-1);
    this.#options.environment.push({ env: name, at, ...(variable === undefined ? {} : { variable }) });
    return value;
  }

  value(value: unknown, at: Location, build: { name?: string; type?: string }): unknown {
    if (typeof value === 'string') return this.string(value, at, build);
    if (Array.isArray(value)) return value.map((item) => this.value(item, at, build));
    if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.value(v, at, build)]));
    return value;
  }
}

/** Packer's Go-template functions that HCL2 strings still take ({{timestamp}}, {{uuid}}, {{isotime}}…); there are no user variables. */
export function goTemplateFunctions(options: Pick<JsonReadOptions, 'env' | 'environment' | 'now'>, templateDir: string): Interpolator {
  return new Interpolator({}, { vars: {}, env: options.env, environment: options.environment, now: options.now, name: '' }, templateDir, () => templateDir);
}

/** The start offset of each element of the top-level array `"section": [ … ]`, found by scanning past strings and nesting. */
function elementOffsets(text: string, section: string): number[] {
  const key = new RegExp(`"${section}"\\s*:\\s*\\[`).exec(text);
  if (!key) return [];
  const offsets: number[] = [];
  let depth = 0;
  let inString = false;
  for (let i = key.index + key[0].length; i < text.length; i += 1) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (depth === 0 && !/[\s,\]]/.test(c)) offsets.push(i);
    if (c === '[' || c === '{') depth += 1;
    else if (c === ']' || c === '}') {
      if (depth === 0) break;
      depth -= 1;
    }
  }
  return offsets;
}

function readBlocks(
  file: string, text: string, section: string, list: unknown, interpolate: Interpolator,
): PackerBlock[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) refuse('InvalidTemplate', `${file}:${lineOf(text, Math.max(text.indexOf(`"${section}"`), 0))}`, `"${section}" must be an array of objects`);
  // A post-processor may be a name, an object, or a sequence (an array) of them.
  const flat = section === 'post-processors'
    ? list.flatMap((item) => (Array.isArray(item) ? item : [item])).map((item) => (typeof item === 'string' ? { type: item } : item))
    : list;
  // Nested post-processor sequences share their sequence's line.
  const found = elementOffsets(text, section);
  const offsets = section === 'post-processors' ? list.flatMap((item, i) => (Array.isArray(item) ? item.map(() => found[i] ?? 0) : [found[i] ?? 0])) : found;
  return flat.map((item, i) => {
    const at = `${file}:${lineOf(text, offsets[i] ?? 0)}`;
    if (!isObject(item) || typeof item.type !== 'string') refuse('InvalidTemplate', at, `each of "${section}" must be an object with a "type"`);
    const fieldAt = fieldFinder(file, text, offsets[i] ?? 0, 'json');
    const build = { type: item.type, ...(typeof item.name === 'string' ? { name: item.name } : {}) };
    const read = (key: string, value: unknown): unknown => {
      // Credentials and communicator settings stay unread: their variables may be unset, their values never shown.
      if (isUnreadField(key)) return value;
      try {
        return interpolate.value(value, fieldAt(key), build);
      } catch (error) {
        if (OPTIONAL_FIELDS.has(key) && error instanceof PackerConversionError && error.code === 'MissingVariable') return undefined;
        throw error;
      }
    };
    // Another builder is refused by name later; its values (often its own template functions) are not read.
    if (section === 'builders' && item.type !== 'azure-arm') return { type: item.type, config: {}, at, fieldAt };
    const config = Object.fromEntries(Object.entries(item)
      .filter(([key]) => key !== 'type')
      .map(([key, value]) => [key, read(key, value)])
      .filter(([, value]) => value !== undefined));
    return { type: item.type, ...(build.name ? { name: build.name } : {}), config, at, fieldAt };
  });
}

/** Reads a legacy JSON template's text into located, interpolated blocks. */
export function readJsonTemplate(file: string, text: string, json: Record<string, unknown>, options: JsonReadOptions): PackerTemplate {
  const variables = json.variables ?? {};
  if (!isObject(variables)) refuse('InvalidTemplate', `${file}:${lineOf(text, text.indexOf('"variables"'))}`, '"variables" must be an object of name → value');
  const variablesAt = fieldFinder(file, text, Math.max(text.indexOf('"variables"'), 0), 'json');
  const sensitive = json['sensitive-variables'] ?? [];
  if (!Array.isArray(sensitive)) refuse('InvalidTemplate', fieldFinder(file, text, 0, 'json')('sensitive-variables'), '"sensitive-variables" must be a list of variable names');
  const interpolate = new Interpolator(variables, options, dirname(file), variablesAt, new Set(sensitive.map(String)));
  const known = new Set(['variables', 'sensitive-variables', 'builders', 'provisioners', 'post-processors', 'description', 'min_packer_version', '_comment']);
  for (const key of Object.keys(json)) {
    if (!known.has(key) && !key.startsWith('_')) refuse('InvalidTemplate', fieldFinder(file, text, 0, 'json')(key), `unknown top-level key "${key}" in a Packer JSON template`);
  }
  return {
    name: options.name,
    builders: readBlocks(file, text, 'builders', json.builders, interpolate),
    provisioners: readBlocks(file, text, 'provisioners', json.provisioners, interpolate),
    postProcessors: readBlocks(file, text, 'post-processors', json['post-processors'], interpolate),
  };
}
