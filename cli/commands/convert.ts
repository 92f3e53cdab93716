/**
 * `kiln convert FILE [--var …]`: prints the Kiln template a Packer (or ARM) template becomes, and what became of each line.
 * Also the Packer plumbing `validate`, `bake` and `templates put` share: options, conversion, notes, uploads.
 */

import { readFile, stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { KilnClient } from '../../src/api/client.ts';
import {
  convertPacker, isPackerDirectory, isPackerHclPath, isPackerJson, localFiles, readPackerFiles,
  type ConversionNote, type PackerConversion, type Upload,
} from '../../src/template/packer/index.ts';
import { loadTemplate, type LoadOptions, type LoadResult, type TemplateError } from '../../src/template/index.ts';
import { action } from './api-options.ts';
import { addTemplateOptions, loadOptionsOf, type TemplateOptions } from './template-options.ts';
import { formatError } from './validate.ts';

export interface PackerCliOptions {
  var?: string[];
  varFile?: string[];
  subscription?: string;
  location?: string;
}

/** The local default's subscription: what ids mean when nothing else says (validate, convert, local bakes). */
export const LOCAL_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000000';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * --var and --var-file (Packer's `-var`/`-var-file` are accepted too: cli/main.ts rewrites them). `withTarget` adds
 * --subscription and --location for a command without the template options (which have both).
 */
export function addPackerOptions(command: Command, { withTarget = false }: { withTarget?: boolean } = {}): Command {
  command
    .option('--var <name=value>', 'Packer variable (repeatable)', collect)
    .option('--var-file <file>', 'Packer variables file: .pkrvars.hcl for HCL2, JSON for a JSON template (repeatable)', collect);
  if (!withTarget) return command;
  return command
    .option('--location <region>', 'region when a Packer builder has no location')
    .addOption(new Option('--subscription <id>', 'subscription of the ids a Packer template leaves implicit (default: the template\'s subscription_id)').env('KILN_SUBSCRIPTION_ID'));
}

/** Packer's single-dash `-var x=y`, `-var-file f` and `-var=x=y` spelled the way the CLI parser reads them. */
export function packerArgv(argv: string[]): string[] {
  return argv.map((arg) => arg.replace(/^-(var|var-file)(=|$)/, '--$1$2'));
}

/** Whether a path is a Packer template: a .pkr.hcl file, a directory of them, or JSON with a "builders" list. */
export async function isPackerInput(path: string): Promise<boolean> {
  if (isPackerHclPath(path) || (await isPackerDirectory(path))) return true;
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || info.size > 1024 * 1024) return false;
  try {
    return isPackerJson(JSON.parse(await readFile(path, 'utf8')));
  } catch {
    return false;
  }
}

function parseVars(pairs: string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--var ${JSON.stringify(pair)}: expected name=value`);
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return vars;
}

/**
 * Converts a Packer file or directory, reading its local scripts and files from disk. `fallbackSubscription` is the
 * local default's when the template is for it (validate, convert, a local bake); a remote Kiln needs --subscription.
 */
export async function convertPackerPath(path: string, options: PackerCliOptions, fallbackSubscription?: string): Promise<PackerConversion> {
  const { input, templateDir, name } = await readPackerFiles(path, options.varFile ?? []);
  const subscriptionId = options.subscription ?? fallbackSubscription;
  return convertPacker({ ...input, vars: parseVars(options.var) }, {
    ...(subscriptionId ? { subscriptionId } : {}),
    ...(options.location ? { location: options.location } : {}),
    name,
    localFiles: localFiles(templateDir),
    // The user's own shell: env() and {{pwd}} mean what they mean to Packer.
    env: process.env,
    cwd: process.cwd(),
  });
}

/** Converts a Packer template, then loads the Kiln template it became as any other: the result, the notes, the uploads. */
export async function loadPackerPath(
  path: string, options: PackerCliOptions, loadOptions: LoadOptions, fallbackSubscription?: string,
): Promise<{ result: LoadResult; notes: ConversionNote[]; uploads: Upload[] }> {
  const converted = await convertPackerPath(path, options, fallbackSubscription);
  if (!converted.ok) return { result: { ok: false, errors: packerErrors(converted) }, notes: converted.notes, uploads: [] };
  return { result: await loadTemplate({ json: converted.template }, loadOptions), notes: converted.notes, uploads: converted.uploads };
}

/** The conversion's errors as template errors: the location as the path, the error's name at the end. */
export function packerErrors(conversion: Extract<PackerConversion, { ok: false }>): TemplateError[] {
  return conversion.errors.map((e) => ({ path: e.at, message: `${e.message} (${e.code})` }));
}

/** One line per note: what Kiln mapped, dropped or ignored (or read from the environment), where, and why. */
export function noteLines(notes: ConversionNote[]): string[] {
  return notes.map((n) => `${n.kind.padEnd(7)} ${n.at} ${n.what}: ${n.message}`);
}

/** Uploads each local file once (content-addressed, so a file already there costs one request). */
export async function uploadFiles(client: KilnClient, uploads: Upload[], log: (line: string) => void): Promise<void> {
  for (const upload of uploads) {
    await client.putUpload(upload.sha256, upload.bytes);
    log(`uploaded ${upload.from} (sha256 ${upload.sha256.slice(0, 12)}…, ${upload.bytes.length} bytes)`);
  }
}

export function registerConvert(program: Command): void {
  addPackerOptions(addTemplateOptions(
    program
      .command('convert')
      .description('print the Kiln template (AIB JSON + Kiln extensions) a Packer or ARM template becomes; notes and warnings go to stderr')
      .argument('<file>', 'Packer template (.json, .pkr.hcl, a directory of them) or ARM deployment template')
      .option('--quiet', 'no notes on stderr'),
  )).action(action(async (file: string, options: TemplateOptions & PackerCliOptions & { quiet?: boolean }) => {
    const say = (line: string) => (options.quiet ? undefined : process.stderr.write(`${line}\n`));
    if (await isPackerInput(file)) {
      const converted = await convertPackerPath(file, options, LOCAL_SUBSCRIPTION_ID);
      if (!converted.ok) return failed(file, packerErrors(converted));
      process.stdout.write(`${JSON.stringify(converted.template, null, 2)}\n`);
      noteLines(converted.notes).forEach(say);
      if (converted.uploads.length > 0) say(`${converted.uploads.length} local file(s) are named by kiln-upload:// URIs; kiln bake and kiln templates put upload them`);
      return;
    }
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => { throw new Error(`cannot read ${file}: ${error.code ?? error.message}`); });
    // Loaded, not only converted: what is printed is complete (a location given beside it) and valid.
    const loaded = await loadTemplate({ path: file, text }, await loadOptionsOf(options));
    if (!loaded.ok) return failed(file, loaded.errors);
    process.stdout.write(`${JSON.stringify(loaded.template, null, 2)}\n`);
    say(`${file}: ${loaded.shape}`);
    for (const warning of loaded.warnings) say(`warning ${warning.path}: ${warning.message}`);
  }));
}

/** Prints every error of a template file and makes the command exit 1. */
export function failed(file: string, errors: TemplateError[]): void {
  process.stderr.write(`${file}: ${errors.length} error(s)\n`);
  for (const e of errors) process.stderr.write(`  ${formatError(e)}\n`);
  process.exitCode = 1;
}
