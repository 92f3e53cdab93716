/** `kiln validate FILE... [--json]`: checks templates, prints a summary per valid file and every error of an invalid one. */

import type { Command } from 'commander';
import { loadTemplateFile, type BakeSpec, type ParseResult, type TemplateError } from '../../src/template/index.ts';

export interface FileResult {
  file: string;
  result: ParseResult;
}

/** Parses each file (an unreadable file is an error at `$`, not an exception). */
export async function validateFiles(files: string[]): Promise<FileResult[]> {
  return Promise.all(files.map(async (file) => ({ file, result: await loadTemplateFile(file) })));
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
    .map(({ file, result }) =>
      result.ok
        ? `ok ${file}: ${summarize(result.spec)}`
        : [`invalid ${file}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}`, ...result.errors.map((e) => `  ${formatError(e)}`)].join('\n'),
    )
    .join('\n');
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check Image Builder templates (with Kiln extensions); exit 1 if any is invalid')
    .argument('<files...>', 'template JSON files')
    .option('--json', 'print a JSON array of { file, ok, spec | errors }')
    .action(async (files: string[], options: { json?: boolean }) => {
      const results = await validateFiles(files);
      const output = options.json
        ? JSON.stringify(results.map(({ file, result }) => ({ file, ...result })), null, 2)
        : formatText(results);
      process.stdout.write(`${output}\n`);
      process.exitCode = results.every((r) => r.result.ok) ? 0 : 1;
    });
}
