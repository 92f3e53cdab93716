/** `kiln validate FILE... [--json]`: checks templates, prints a summary per valid file and every error of an invalid one. */

import type { Command } from 'commander';
import type { BakeSpec, LoadOptions, LoadResult, TemplateError } from '../../src/template/index.ts';
import type { ConversionNote } from '../../src/template/packer/index.ts';
import { action } from './api-options.ts';
import { addPackerOptions, LOCAL_SUBSCRIPTION_ID, noteLines, type PackerCliOptions } from './convert.ts';
import { readTemplatePath } from './template-input.ts';
import { addTemplateOptions, loadOptionsOf, type TemplateOptions } from './template-options.ts';

export interface FileResult {
  file: string;
  result: LoadResult;
  /** For a Packer template: what Kiln mapped, dropped or ignored, line by line. */
  notes?: ConversionNote[];
}

/** Parses each file (an unreadable file is an error at `$`, not an exception); a Packer template is converted first. */
export async function validateFiles(files: string[], options: LoadOptions = {}, packer: PackerCliOptions = {}): Promise<FileResult[]> {
  return Promise.all(files.map(async (file) => {
    const read = await readTemplatePath(file, packer, options, LOCAL_SUBSCRIPTION_ID);
    return { file, result: read.result, ...(read.packer ? { notes: read.notes } : {}) };
  }));
}
/** One line describing what a valid template bakes. */
export function summarize(spec: BakeSpec): string {
  const src = spec.source;
  const source =
    src.type === 'PlatformImage' ? `${src.publisher}/${src.offer}/${src.sku}@${src.version}`
    : src.type === 'ManagedImage' ? src.imageId.split('/').pop()
    : `${src.image.image}@${src.version ?? 'latest'}`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const targets = spec.distributions.map((d) =>
    d.type === 'SharedImage' ? `${d.image.image} in ${d.regions.map((r) => r.name).join(', ')}` : `${d.type} ${d.runOutputName}`,
  );
  const parts = [
    `${spec.name}: ${src.type} ${source}`,
    plural(spec.customizers.length, 'customizer'),
    plural(spec.validation.inVMValidations.length, 'validation'),
    `to ${targets.join('; ')}`,
  ];
  if (spec.rollout.length > 0) parts.push(`rollout to ${spec.rollout.map((r) => r.scaleSetName).join(', ')}`);
  const secrets = Object.keys(spec.secrets).length;
  if (secrets > 0) parts.push(plural(secrets, 'secret'));
  return parts.join(', ');
}

/** `path: message (expected …, found …)`. */
export function formatError(error: TemplateError): string {
  const detail = [error.expected && `expected ${error.expected}`, error.found && `found ${error.found}`].filter(Boolean);
  return `${error.path}: ${error.message}${detail.length > 0 ? ` (${detail.join(', ')})` : ''}`;
}

export function formatText(results: FileResult[]): string {
  return results
    .map(({ file, result, notes }) => [
      result.ok
        ? [`ok ${file}: ${summarize(result.spec)}`, ...result.warnings.map((w) => `  warning ${w.path}: ${w.message}`)].join('\n')
        : [`invalid ${file}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}`, ...result.errors.map((e) => `  ${formatError(e)}`)].join('\n'),
      ...noteLines(notes ?? []).map((line) => `  ${line}`),
    ].join('\n'))
    .join('\n');
}

export function registerValidate(program: Command): void {
  addPackerOptions(addTemplateOptions(
    program
      .command('validate')
      .description('check templates (AIB imageTemplate resource or properties, ARM deployment template, Packer template); exit 1 if any is invalid')
      .argument('<files...>', 'template files (a Packer template may be a directory of .pkr.hcl files)')
      .option('--json', 'print a JSON array of { file, ok, shape, spec, warnings, notes? | errors }'),
  )).action(action(async (files: string[], options: TemplateOptions & PackerCliOptions & { json?: boolean }) => {
    const results = await validateFiles(files, await loadOptionsOf(options), options);
    // The converted resource is `kiln convert`'s output; validate reports only what it found.
    const output = options.json
      ? JSON.stringify(results.map(({ file, result, notes }) => ({
        file,
        ...(result.ok ? { ok: true, shape: result.shape, spec: result.spec, warnings: result.warnings } : result),
        ...(notes ? { notes } : {}),
      })), null, 2)
      : formatText(results);
    process.stdout.write(`${output}\n`);
    process.exitCode = results.every((r) => r.result.ok) ? 0 : 1;
  }));
}
