/**
 * Reading a template file the way `kiln validate`, `kiln bake` and `kiln templates put` all do: a Packer template
 * converted here (its local files become uploads), any other shape loaded with the ARM parameters, location and target given.
 */

import { loadTemplateFile, type LoadOptions, type LoadResult } from '../../src/template/index.ts';
import type { ConversionNote, Upload } from '../../src/template/packer/index.ts';
import { isPackerInput, loadPackerPath, LOCAL_SUBSCRIPTION_ID, type PackerCliOptions } from './convert.ts';
import { loadOptionsOf, type TemplateOptions } from './template-options.ts';

/** The template and the local files to upload before it; `packer` says which way the file was read. */
export interface TemplateFileInput {
  parsed: LoadResult;
  uploads: Upload[];
  packer: boolean;
}

/** A template file as read: for a Packer template, also what the conversion mapped, dropped or ignored, and its local files. */
export type ReadTemplate = { result: LoadResult; packer: false } | { result: LoadResult; packer: true; notes: ConversionNote[]; uploads: Upload[] };

/** Reads any template file; `fallbackSubscription` fills in a Packer template's implicit ids. */
export async function readTemplatePath(file: string, packer: PackerCliOptions, loadOptions: LoadOptions, fallbackSubscription?: string): Promise<ReadTemplate> {
  if (!(await isPackerInput(file))) return { result: await loadTemplateFile(file, loadOptions), packer: false };
  return { ...(await loadPackerPath(file, packer, loadOptions, fallbackSubscription)), packer: true };
}

/**
 * Reads a template file for sending to Kiln. `endpoint` is the remote Kiln it goes to, if any: the local default's
 * subscription fills in Packer's implicit ids only when the template is for the local default.
 */
export async function readTemplateInput(file: string, options: TemplateOptions & PackerCliOptions & { endpoint?: string }): Promise<TemplateFileInput> {
  const read = await readTemplatePath(file, options, await loadOptionsOf(options), options.endpoint ? undefined : LOCAL_SUBSCRIPTION_ID);
  if (!read.packer) return { parsed: read.result, uploads: [], packer: false };
  const { result, notes, uploads } = read;
  if (!result.ok) return { parsed: result, uploads, packer: true };
  // Values from the user's shell are said first (they are stored with the template); what was dropped (credentials,
  // deprovision lines, passwords) is said; the ignored lines are counted.
  const environment = notes.filter((n) => n.kind === 'environment').map((n) => ({ path: n.at, message: `${n.what} ${n.message}` }));
  const dropped = notes.filter((n) => n.kind === 'dropped').map((n) => ({ path: n.at, message: `${n.what}: ${n.message}` }));
  const ignored = notes.filter((n) => n.kind === 'ignored').length;
  const counted = ignored > 0 ? [{ path: file, message: `${ignored} Packer setting(s) ignored; kiln validate ${file} lists them with the reason` }] : [];
  return { parsed: { ...result, warnings: [...environment, ...dropped, ...counted, ...result.warnings] }, uploads, packer: true };
}
