/**
 * Packer templates (legacy JSON, HCL2 files or a directory with variable files) converted to a Kiln template: an
 * AIB imageTemplate resource, notes saying what each Packer line became, and the local files to upload.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { mapAzureArm } from './azure-arm.ts';
import { provisionersFor } from './build-filter.ts';
import { readHclTemplate, type SourceFile } from './hcl-template.ts';
import { readJsonTemplate } from './json-template.ts';
import { environmentNote, PackerConversionError, refuse, type ConversionNote, type EnvironmentRead, type PackerError, type PackerTemplate, type Upload } from './model.ts';
import { mapProvisioners, type LocalFiles } from './provisioners.ts';

export type { ConversionNote, PackerError, Upload } from './model.ts';
export type { LocalFiles } from './provisioners.ts';
export type { SourceFile } from './hcl-template.ts';

/** What to convert: the template's files and the values given beside it. */
export interface PackerInput {
  /** One .json template, or the .pkr.hcl files of one template. */
  files: SourceFile[];
  /** `--var-file` files (and a directory's *.auto.pkrvars.hcl): JSON for a JSON template, HCL for HCL2. */
  varFiles?: SourceFile[];
  /** `--var name=value`. */
  vars?: Record<string, string>;
}

export interface PackerOptions {
  /** The subscription of the ids Packer leaves implicit, when the template has no subscription_id. */
  subscriptionId?: string;
  /** The region when the builder has no `location` (Packer would take build_resource_group_name's). */
  location?: string;
  /** The template's name; default: from the file or directory name. */
  name?: string;
  /** Where local scripts and files are read; without it (a server) a template naming one is refused. */
  localFiles?: LocalFiles;
  /**
   * The environment `env()` / `{{env}}` read, and the directory `{{pwd}}` is: the CLI's own. Without them (a server)
   * env() is empty and {{pwd}} refused, so a template sent to Kiln cannot read the host's settings or paths.
   */
  env?: Record<string, string | undefined>;
  cwd?: string;
  now?: Date;
}

export type PackerConversion =
  | { ok: true; template: Record<string, unknown>; notes: ConversionNote[]; uploads: Upload[] }
  | { ok: false; errors: PackerError[]; notes: ConversionNote[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Packer JSON template: an object with a `builders` list. */
export function isPackerJson(json: unknown): json is Record<string, unknown> {
  return isObject(json) && Array.isArray(json.builders);
}

/** A path that names Packer HCL2: a .pkr.hcl file or a directory (checked for .pkr.hcl files by the reader). */
export function isPackerHclPath(path: string): boolean {
  return /\.pkr\.hcl$/i.test(path);
}

/** A Kiln template name from a file or directory name: `ubuntu.pkr.hcl` → `ubuntu`. */
export function templateNameOf(path: string): string {
  const base = basename(path.replace(/[\\/]+$/, '')).replace(/\.(pkr\.hcl|pkr\.json|json)$/i, '');
  const clean = base.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return clean || 'packer';
}

/** Converts a Packer template to a Kiln template; every failure is a named, located error, never a throw. */
export async function convertPacker(input: PackerInput, options: PackerOptions): Promise<PackerConversion> {
  const notes: ConversionNote[] = [];
  try {
    const first = input.files[0] ?? refuse('NoTemplate', '$', 'no Packer template file given');
    const environment: EnvironmentRead[] = [];
    const common = { vars: input.vars ?? {}, env: options.env ?? {}, environment, ...(options.cwd ? { cwd: options.cwd } : {}), now: options.now ?? new Date(), name: options.name ?? templateNameOf(first.path) };
    let packer: PackerTemplate;
    if (input.files.length === 1 && !isPackerHclPath(first.path) && first.text.trimStart().startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(first.text.replace(/^\uFEFF/, ''));
      } catch (error) {
        return refuse('JsonSyntaxError', first.path, `not valid JSON: ${(error as Error).message}`);
      }
      if (!isPackerJson(json)) return refuse('NotPacker', first.path, 'a Packer JSON template has a "builders" list');
      const fileVars: Record<string, string> = {};
      for (const varFile of input.varFiles ?? []) {
        let values: unknown;
        try {
          values = JSON.parse(varFile.text);
        } catch (error) {
          return refuse('JsonSyntaxError', varFile.path, `a JSON template's --var-file must be JSON: ${(error as Error).message}`);
        }
        if (!isObject(values)) return refuse('InvalidVarFile', varFile.path, 'a var file is an object of name → value');
        for (const [k, v] of Object.entries(values)) fileVars[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      packer = readJsonTemplate(first.path, first.text, json, { ...common, vars: { ...fileVars, ...common.vars } });
    } else {
      packer = await readHclTemplate(input.files, { ...common, varFiles: input.varFiles ?? [] });
    }
    // Said first, once per variable and environment variable: these values leave the user's shell for the server.
    const said = new Set<string>();
    for (const read of environment) {
      const key = JSON.stringify([read.variable, read.env, read.at]);
      if (!said.has(key)) notes.push(environmentNote(read));
      said.add(key);
    }
    const builder = mapAzureArm(packer.builders, { now: common.now, ...(options.subscriptionId ? { subscriptionId: options.subscriptionId } : {}), ...(options.location ? { location: options.location } : {}) }, notes);
    // mapAzureArm accepted exactly one builder: the build the provisioners' only/except/override are read for.
    const provisioned = await mapProvisioners(provisionersFor(packer.provisioners, packer.builders[0]!, notes), options.localFiles, notes);
    for (const post of packer.postProcessors) {
      if (post.type !== 'manifest') refuse('UnsupportedPostProcessor', post.at, `post-processor "${post.type}": Kiln publishes to the image outputs only; its run record replaces Packer's manifest`);
      notes.push({ kind: 'ignored', at: post.at, what: 'post-processor "manifest"', message: 'Kiln writes a run record with the image ids (kiln status ID --json)' });
    }
    const template: Record<string, unknown> = {
      type: 'Microsoft.VirtualMachineImages/imageTemplates',
      apiVersion: '2024-02-01',
      name: packer.name,
      location: builder.location,
      ...(builder.tags ? { tags: builder.tags } : {}),
      properties: { ...builder.properties, ...(provisioned.customize.length > 0 ? { customize: provisioned.customize } : {}) },
    };
    return { ok: true, template, notes, uploads: provisioned.uploads };
  } catch (error) {
    if (error instanceof PackerConversionError) return { ok: false, errors: [{ code: error.code, at: error.at, message: error.reason }], notes };
    throw error;
  }
}

/** Local files as Packer finds them: relative to the working directory first, then to the template's directory. */
export function localFiles(templateDir: string, cwd: string = process.cwd()): LocalFiles {
  const exists = (path: string) => stat(path).then(() => true, () => false);
  return {
    async resolve(path) {
      if (isAbsolute(path)) return (await exists(path)) ? path : undefined;
      for (const base of [cwd, templateDir]) if (await exists(resolve(base, path))) return resolve(base, path);
      return undefined;
    },
    isDirectory: async (path) => (await stat(path)).isDirectory(),
    async list(dir) {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/')).sort();
    },
    read: (path) => readFile(path),
  };
}

/**
 * Reads a Packer template from disk: a .json or .pkr.hcl file, or a directory of .pkr.hcl files (with its
 * *.auto.pkrvars.hcl); `varFiles` are the `--var-file` paths.
 */
export async function readPackerFiles(path: string, varFiles: string[] = []): Promise<{ input: Omit<PackerInput, 'vars'>; templateDir: string; name: string }> {
  const read = async (file: string): Promise<SourceFile> => ({ path: file, text: await readFile(file, 'utf8') });
  const info = await stat(path);
  const given = await Promise.all(varFiles.map(read));
  if (!info.isDirectory()) return { input: { files: [await read(path)], varFiles: given }, templateDir: dirname(path), name: templateNameOf(path) };
  const names = (await readdir(path)).sort();
  const files = await Promise.all(names.filter((n) => /\.pkr\.hcl$/i.test(n)).map((n) => read(join(path, n))));
  const auto = await Promise.all(names.filter((n) => /\.auto\.pkrvars\.hcl$/i.test(n)).map((n) => read(join(path, n))));
  return { input: { files, varFiles: [...auto, ...given] }, templateDir: path, name: templateNameOf(path) };
}

/** Whether a path is a directory holding .pkr.hcl files. */
export async function isPackerDirectory(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  return (await readdir(path)).some((n) => /\.pkr\.hcl$/i.test(n));
}
