/**
 * Reads Packer HCL2 (.pkr.hcl files, *.pkrvars.hcl values) with @cdktn/hcl2json. That parser groups blocks by type,
 * so each provisioner and post-processor block is relabelled first with its order and line, which keeps both.
 */

import { parse } from '@cdktn/hcl2json';
import { dirname } from 'node:path';
import { isUnreadField, OPTIONAL_FIELDS } from './credentials.ts';
import { HclEvaluator, inOrder, type EvalScope } from './hcl-eval.ts';
import { goTemplateFunctions } from './json-template.ts';
import { fieldFinder, lineOf } from './locate.ts';
import { PackerConversionError, refuse, type EnvironmentRead, type Location, type PackerBlock, type PackerTemplate } from './model.ts';

export interface SourceFile {
  path: string;
  text: string;
}

export interface HclReadOptions {
  vars: Record<string, string>;
  varFiles: SourceFile[];
  env: Record<string, string | undefined>;
  /** Collects each read of a set environment variable. */
  environment: EnvironmentRead[];
  now: Date;
  name: string;
}

type Obj = Record<string, unknown>;
const RELABEL = /^kiln(\d+):(\d+):(.+)$/;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Gives each provisioner/post-processor block a label `kiln{order}:{line}:{type}` so order and line survive parsing. */
function relabel(text: string, counter: { next: number }): string {
  return text.replace(/^([ \t]*)(provisioner|post-processor)([ \t]+)"([^"]+)"/gm, (_m, indent: string, kind: string, gap: string, type: string, offset: number) =>
    `${indent}${kind}${gap}"kiln${String(counter.next++).padStart(5, '0')}:${lineOf(text, offset)}:${type}"`);
}

/** hcl2json's "parse config: [file:12,5-9: Summary; Detail]" as a located, named error. */
function syntaxError(file: string, error: Error): never {
  const m = /\[?([^\s[\]]+):(\d+),(\d+)(?:-[\d,]+)?: ([^\]]*)\]?/.exec(error.message);
  if (!m) return refuse('HclSyntaxError', file, error.message.replace(/^parse config: /, ''));
  return refuse('HclSyntaxError', `${m[1]}:${m[2]}:${m[3]}`, m[4]!.trim());
}

async function parseFile(file: SourceFile, counter: { next: number }): Promise<Obj> {
  try {
    return await parse(file.path, relabel(file.text, counter));
  } catch (error) {
    return syntaxError(file.path, error as Error);
  }
}

function blockOffset(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  return m ? m.index : 0;
}

function escape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `--var` values are strings; a variable declared with a non-string type reads them as HCL/JSON values. */
function typed(raw: string, type: unknown): unknown {
  if (type === undefined || type === '${string}') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

interface Located { file: SourceFile; offset: number }

/** Reads .pkr.hcl files and variable files into located, evaluated blocks. */
export async function readHclTemplate(files: SourceFile[], options: HclReadOptions): Promise<PackerTemplate> {
  const counter = { next: 0 };
  const parsed = await Promise.all(files.map(async (file) => ({ file, body: await parseFile(file, counter) })));
  const scope: EvalScope = { now: options.now, env: options.env, environment: options.environment, root: dirname(files[0]?.path ?? '.'), variables: new Map(), locals: new Map() };
  const sources = new Map<string, { config: Obj; at: Located }>();
  const builds: { body: Obj; at: Located }[] = [];

  for (const { file, body } of parsed) {
    const at = (offset: number): Location => `${file.path}:${lineOf(file.text, offset)}`;
    for (const [key, value] of Object.entries(body)) {
      switch (key) {
        case 'variable':
          for (const [name, [decl]] of Object.entries(value as Record<string, Obj[]>)) {
            const where = at(blockOffset(file.text, new RegExp(`^\\s*variable\\s+"${escape(name)}"`, 'm')));
            const given = name in options.vars ? typed(options.vars[name]!, decl?.type) : undefined;
            scope.variables.set(name, {
              at: where,
              ...(decl?.sensitive === true ? { sensitive: true } : {}),
              ...(given !== undefined ? { given } : {}),
              ...(decl && 'default' in decl ? { pending: { value: decl.default, at: where, variableDefault: name } } : {}),
            });
          }
          break;
        case 'locals':
          for (const block of value as Obj[]) {
            for (const [name, expr] of Object.entries(block)) {
              scope.locals.set(name, { value: expr, at: at(blockOffset(file.text, new RegExp(`^\\s*${escape(name)}\\s*=`, 'm'))) });
            }
          }
          break;
        case 'local':
          for (const [name, [decl]] of Object.entries(value as Record<string, Obj[]>)) {
            scope.locals.set(name, { value: decl?.expression, at: at(blockOffset(file.text, new RegExp(`^\\s*local\\s+"${escape(name)}"`, 'm'))) });
          }
          break;
        case 'source':
          for (const [type, named] of Object.entries(value as Record<string, Record<string, Obj[]>>)) {
            for (const [name, [config]] of Object.entries(named)) {
              const offset = blockOffset(file.text, new RegExp(`^\\s*source\\s+"${escape(type)}"\\s+"${escape(name)}"`, 'm'));
              sources.set(`source.${type}.${name}`, { config: config ?? {}, at: { file, offset } });
            }
          }
          break;
        case 'build':
          for (const build of value as Obj[]) builds.push({ body: build, at: { file, offset: blockOffset(file.text, /^\s*build\s*\{/m) } });
          break;
        case 'packer':
          break;
        case 'data':
          return refuse('UnsupportedDataSource', at(blockOffset(file.text, /^\s*data\s+"/m)), `data sources (${Object.keys(value as Obj).join(', ')}) are not evaluated by Kiln; give their values as variables`);
        default:
          return refuse('InvalidTemplate', at(blockOffset(file.text, new RegExp(`^\\s*${escape(key)}\\b`, 'm'))), `unknown top-level block or attribute "${key}" in a Packer HCL2 template`);
      }
    }
  }

  // Variable files: plain attribute values, which win over defaults; a value for an undeclared variable is an error.
  for (const varFile of options.varFiles) {
    const body = await parseFile(varFile, counter);
    const evaluator = new HclEvaluator({ ...scope, variables: new Map(), locals: new Map() });
    for (const [name, raw] of Object.entries(body)) {
      const where = `${varFile.path}:${lineOf(varFile.text, blockOffset(varFile.text, new RegExp(`^\\s*${escape(name)}\\s*=`, 'm')))}`;
      const declared = scope.variables.get(name);
      if (!declared) refuse('UndefinedVariable', where, `a value for "${name}", which no variable block declares`);
      if (!(name in options.vars)) declared.given = await evaluator.value({ value: raw, at: where });
    }
  }
  for (const name of Object.keys(options.vars)) {
    if (!scope.variables.has(name)) refuse('UndefinedVariable', `--var ${name}`, `a value for "${name}", which no variable block declares`);
  }

  if (builds.length === 0) refuse('NoBuild', files[0]?.path ?? '$', 'no build block: a Packer template needs one build block naming its source');
  if (builds.length > 1) refuse('SeveralBuilds', `${builds[1]!.at.file.path}:${lineOf(builds[1]!.at.file.text, builds[1]!.at.offset)}`, `${builds.length} build blocks: Kiln bakes one build per template`);
  const build = builds[0]!;
  const evaluator = new HclEvaluator(scope);
  // The plugin SDK still runs Go templates over decoded HCL2 values: "img-{{timestamp}}" works there, so it does here.
  const legacy = goTemplateFunctions(options, scope.root);

  const toBlock = async (type: string, name: string | undefined, config: Obj, at: Located): Promise<PackerBlock> => {
    const location = `${at.file.path}:${lineOf(at.file.text, at.offset)}`;
    const fieldAt = fieldFinder(at.file.path, at.file.text, at.offset, 'hcl');
    const entries = await inOrder(Object.entries(config), async ([key, value]) => {
      // Credentials and communicator settings stay unread: their variables may be unset, their values never shown.
      if (isUnreadField(key)) return [key, value] as const;
      try {
        return [key, legacy.value(await evaluator.value({ value, at: fieldAt(key) }), fieldAt(key), { type, ...(name ? { name } : {}) })] as const;
      } catch (error) {
        if (OPTIONAL_FIELDS.has(key) && error instanceof PackerConversionError && error.code === 'MissingVariable') return [key, undefined] as const;
        throw error;
      }
    });
    return { type, ...(name ? { name } : {}), config: Object.fromEntries(entries.filter(([, v]) => v !== undefined)), at: location, fieldAt };
  };

  // The build's sources: the `sources` list, and `source "source.T.N" { … }` blocks that may override fields.
  const refs: { ref: string; overrides: Obj }[] = [];
  for (const ref of (build.body.sources as unknown[] | undefined) ?? []) refs.push({ ref: String(ref), overrides: {} });
  for (const [ref, [overrides]] of Object.entries((build.body.source as Record<string, Obj[]> | undefined) ?? {})) refs.push({ ref, overrides: overrides ?? {} });
  const buildAt = `${build.at.file.path}:${lineOf(build.at.file.text, build.at.offset)}`;
  const builders: PackerBlock[] = [];
  for (const { ref, overrides } of refs) {
    const m = /^source\.([^.]+)\.(.+)$/.exec(ref);
    const source = sources.get(ref);
    if (!m || !source) refuse('UndefinedSource', buildAt, `build source ${JSON.stringify(ref)}: no source block "${m?.[1] ?? '?'}" "${m?.[2] ?? '?'}" is declared`);
    const { name: rename, ...rest } = overrides;
    // Another builder is refused by name later; its values are not read.
    const config = m[1] === 'azure-arm' ? { ...source.config, ...rest } : {};
    builders.push(await toBlock(m[1]!, typeof rename === 'string' ? rename : m[2]!, config, source.at));
  }

  if (builders.length === 1) scope.source = { name: builders[0]!.name ?? '', type: builders[0]!.type };
  const ordered = async (key: string): Promise<PackerBlock[]> => {
    const groups: Record<string, Obj[]>[] = [];
    if (isObject(build.body[key])) groups.push(build.body[key] as Record<string, Obj[]>);
    // `post-processors { post-processor "x" {} … }` sequences.
    if (key === 'post-processor') for (const seq of (build.body['post-processors'] as Obj[] | undefined) ?? []) groups.push((seq['post-processor'] ?? {}) as Record<string, Obj[]>);
    const blocks = groups.flatMap((group) => Object.entries(group).flatMap(([label, configs]) => configs.map((config) => ({ label, config }))));
    blocks.sort((a, b) => a.label.localeCompare(b.label));
    return inOrder(blocks, ({ label, config }) => {
      // Provisioners live inside the build block, so their line is in the build's file.
      const [, , line, type] = RELABEL.exec(label) ?? [];
      const text = build.at.file.text;
      const offset = text.split('\n').slice(0, Number(line) - 1).join('\n').length + 1;
      return toBlock(type ?? label, undefined, config, { file: build.at.file, offset });
    });
  };

  return { name: options.name, builders, provisioners: await ordered('provisioner'), postProcessors: await ordered('post-processor') };
}
