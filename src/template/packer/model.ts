/** The shapes a Packer template becomes on its way to a Kiln template: located blocks, notes, uploads and errors. */

/** Where something is in the user's files: `file:line` or `file:line:column`. */
export type Location = string;

/** One builder/source or provisioner block, its values already interpolated, and where it starts. */
export interface PackerBlock {
  type: string;
  /** The source's name (HCL2) or the builder's `name` (JSON), if any. */
  name?: string;
  config: Record<string, unknown>;
  at: Location;
  /** Finds the line of one of the block's fields (falls back to the block's own location). */
  fieldAt(field: string): Location;
}

/** A Packer template read from JSON or HCL2: the one builder to map, the provisioners in order, the post-processors. */
export interface PackerTemplate {
  builders: PackerBlock[];
  provisioners: PackerBlock[];
  postProcessors: PackerBlock[];
  /** A name for the Kiln template (from the file or directory name). */
  name: string;
}

/** What became of a line of the Packer template; `environment`: a value read from the CLI user's shell (env()). */
export type NoteKind = 'mapped' | 'dropped' | 'ignored' | 'environment';

export interface ConversionNote {
  kind: NoteKind;
  at: Location;
  /** The Packer field or block, e.g. `managed_image_name` or `provisioner "shell"`. */
  what: string;
  /** What Kiln made of it, or why it did not. */
  message: string;
}

/** A value a template read from the environment (`env("Y")`, `{{env \`Y\`}}`) where that variable was set. */
export interface EnvironmentRead {
  /** The environment variable read. */
  env: string;
  /** The Packer variable whose default read it; none for `{{env}}` written in a field. */
  variable?: string;
  at: Location;
}

/**
 * The note for a value that came from the user's shell: it travels in the spec, so it is stored with the template
 * and in run records, where a secret must never be.
 */
export function environmentNote(read: EnvironmentRead): ConversionNote {
  return {
    kind: 'environment',
    at: read.at,
    what: read.variable === undefined ? 'a value' : `variable "${read.variable}"`,
    message: `took its value from the environment variable ${read.env}; it is stored with the template and in run records — for a secret, use a sensitive variable from Key Vault (the template's "secrets")`,
  };
}

/** A local file the build VM needs: uploaded content-addressed, then fetched with a read-only SAS and checked. */
export interface Upload {
  sha256: string;
  /** The local path it was read from, or `content of <location>` for a file provisioner's `content`. */
  from: string;
  bytes: Buffer;
}

/** A named conversion error: `code` says what kind, `at` where, `message` what was expected and found. */
export interface PackerError {
  code: string;
  at: Location;
  message: string;
}

export class PackerConversionError extends Error {
  override name = 'PackerConversionError';
  readonly code: string;
  readonly at: Location;
  readonly reason: string;
  constructor(code: string, at: Location, reason: string) {
    super(`${at}: ${reason} (${code})`);
    this.code = code;
    this.at = at;
    this.reason = reason;
  }
}

/** Throws a named conversion error. */
export function refuse(code: string, at: Location, message: string): never {
  throw new PackerConversionError(code, at, message);
}
