/**
 * A provisioner's per-build settings read for the one build Kiln bakes: `only`/`except` decide whether it runs,
 * and `override.<build>` replaces its fields, as Packer does for that build; what names other builds is noted.
 */

import { refuse, type ConversionNote, type PackerBlock } from './model.ts';

/**
 * The names a template may use for the build: JSON, the builder's `name` (its type when it has none); HCL2, the
 * source's name (or its in-build rename), `TYPE.NAME` or `source.TYPE.NAME`.
 */
export function buildNames(builder: PackerBlock): string[] {
  if (!builder.name) return [builder.type];
  return [builder.name, `${builder.type}.${builder.name}`, `source.${builder.type}.${builder.name}`];
}

function nameList(block: PackerBlock, key: 'only' | 'except'): string[] | undefined {
  const value = block.config[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) refuse('InvalidField', block.fieldAt(key), `${key} must be a list of build names`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The provisioners that run for `builder`, each with its override for that build applied (a shallow merge: an
 * overridden field replaces the whole field, as in Packer) and `only`, `except` and `override` removed.
 */
export function provisionersFor(blocks: PackerBlock[], builder: PackerBlock, notes: ConversionNote[]): PackerBlock[] {
  const names = new Set(buildNames(builder));
  const build = builder.name ? `${builder.type} build "${builder.name}"` : `${builder.type} build`;
  const kept: PackerBlock[] = [];
  for (const block of blocks) {
    const what = `provisioner "${block.type}"`;
    const { only: _only, except: _except, override, ...config } = block.config;
    const only = nameList(block, 'only');
    const except = nameList(block, 'except');
    if (only && !only.some((n) => names.has(n))) {
      notes.push({ kind: 'ignored', at: block.fieldAt('only'), what: `${what} only`, message: `runs only for ${only.join(', ')}, not for the ${build} Kiln bakes; not run` });
      continue;
    }
    if (except?.some((n) => names.has(n))) {
      notes.push({ kind: 'ignored', at: block.fieldAt('except'), what: `${what} except`, message: `not run for the ${build} Kiln bakes` });
      continue;
    }
    if (only) notes.push({ kind: 'mapped', at: block.fieldAt('only'), what: `${what} only`, message: `runs for the ${build} Kiln bakes` });
    if (except) notes.push({ kind: 'mapped', at: block.fieldAt('except'), what: `${what} except`, message: `names other builds; runs for the ${build} Kiln bakes` });
    if (override !== undefined && !isObject(override)) refuse('InvalidField', block.fieldAt('override'), 'override must be an object of build name → settings');
    let merged = config;
    for (const [name, settings] of Object.entries(override ?? {})) {
      if (!isObject(settings)) refuse('InvalidField', block.fieldAt('override'), `override.${name} must be an object of the provisioner's settings`);
      if (!names.has(name)) {
        notes.push({ kind: 'ignored', at: block.fieldAt('override'), what: `${what} override.${name}`, message: `for another build; Kiln bakes the ${build}` });
        continue;
      }
      merged = { ...merged, ...settings };
      notes.push({ kind: 'mapped', at: block.fieldAt('override'), what: `${what} override.${name}`, message: `applied for the ${build} Kiln bakes: ${Object.keys(settings).join(', ')}` });
    }
    kept.push({ ...block, config: merged });
  }
  return kept;
}
