/** The emulated vault's secrets with their versions, kept in one JSON file under the emulator home. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SecretAttributes {
  enabled: boolean;
  /** Unix seconds, as Key Vault sends them. */
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  attributes: SecretAttributes;
}

export interface StoredSecret {
  /** The name as first written (Key Vault names are case-insensitive; the key is lower case). */
  name: string;
  /** Oldest first; the last is the current version. */
  versions: SecretVersion[];
}

export interface SecretInput {
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  nbf?: number;
  exp?: number;
}

interface StoreFile {
  secrets: Record<string, StoredSecret>;
}

export interface SecretStore {
  get(name: string): StoredSecret | undefined;
  list(): StoredSecret[];
  /** Adds a new version (a new secret if the name is new) and persists it before returning. */
  set(name: string, input: SecretInput): Promise<SecretVersion>;
}

export async function openSecretStore(home: string): Promise<SecretStore> {
  const dir = join(home, 'keyvault');
  const file = join(dir, 'secrets.json');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let data: StoreFile = { secrets: {} };
  try {
    data = JSON.parse(await readFile(file, 'utf8')) as StoreFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`key vault store ${file}: cannot read (${(error as Error).message})`);
    }
  }
  // One write at a time, each a complete file renamed into place: a crash leaves the old or the new state.
  let writing: Promise<void> = Promise.resolve();
  const persist = (): Promise<void> => {
    const text = JSON.stringify(data);
    writing = writing.then(async () => {
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, text, { mode: 0o600 });
      await rename(temporary, file);
    });
    return writing;
  };

  return {
    get: (name) => data.secrets[name.toLowerCase()],
    list: () => Object.values(data.secrets),
    async set(name, input) {
      const now = Math.floor(Date.now() / 1000);
      const version: SecretVersion = {
        version: randomBytes(16).toString('hex'),
        value: input.value,
        ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
        ...(input.tags !== undefined ? { tags: input.tags } : {}),
        attributes: {
          enabled: input.enabled ?? true,
          ...(input.nbf !== undefined ? { nbf: input.nbf } : {}),
          ...(input.exp !== undefined ? { exp: input.exp } : {}),
          created: now,
          updated: now,
        },
      };
      const key = name.toLowerCase();
      const secret = data.secrets[key] ?? { name, versions: [] };
      secret.versions.push(version);
      data.secrets[key] = secret;
      await persist();
      return version;
    },
  };
}
