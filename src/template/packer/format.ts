/**
 * Packer as one of the template loader's input formats (the HTTP API, the blob drop, stored templates): a Packer
 * JSON document, or HCL2 text named *.pkr.hcl. There are no local files on a server, so a template that names one is
 * refused with a pointer to the CLI, which uploads them.
 */

import { convertPacker, isPackerHclPath, isPackerJson, templateNameOf } from './index.ts';

/** What the loader hands a format (structurally the loader's TemplateInput). */
export interface PackerFormatInput {
  path?: string;
  text?: string;
  json?: unknown;
}

/** The loader's options a Packer template reads: `parameters` are its variables. */
export interface PackerFormatOptions {
  parameters?: Record<string, unknown>;
  subscriptionId?: string;
  location?: string;
  name?: string;
}

export type PackerFormatConversion =
  | { ok: true; shape: string; template: Record<string, unknown>; warnings: { path: string; message: string }[] }
  | { ok: false; shape: string; errors: { path: string; message: string }[] };

const SHAPE = 'Packer template';

export const packerFormat = {
  shape: SHAPE,
  claims(input: PackerFormatInput): boolean {
    return isPackerJson(input.json) || (input.path !== undefined && input.text !== undefined && isPackerHclPath(input.path));
  },
  async convert(input: PackerFormatInput, options: PackerFormatOptions): Promise<PackerFormatConversion> {
    const json = isPackerJson(input.json);
    const path = input.path && (json ? !isPackerHclPath(input.path) : true) ? input.path : 'template.json';
    const text = input.text ?? JSON.stringify(input.json, null, 2);
    const vars = Object.fromEntries(Object.entries(options.parameters ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const result = await convertPacker({ files: [{ path, text }], vars }, {
      ...(options.subscriptionId ? { subscriptionId: options.subscriptionId } : {}),
      ...(options.location ? { location: options.location } : {}),
      name: options.name ?? templateNameOf(path),
    });
    if (!result.ok) return { ok: false, shape: SHAPE, errors: result.errors.map((e) => ({ path: e.at, message: `${e.message} (${e.code})` })) };
    // What Kiln did not carry over is said once per line; what it mapped needs no warning.
    const warnings = result.notes.filter((n) => n.kind !== 'mapped').map((n) => ({ path: n.at, message: `${n.what}: ${n.kind}, ${n.message}` }));
    return { ok: true, shape: SHAPE, template: result.template, warnings };
  },
};
