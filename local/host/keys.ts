/** The host's function and admin keys: given, from settings, or generated once and kept under the host's home. */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface HostKeys {
  function: string;
  admin: string;
}

export const FUNCTION_KEY_SETTING = 'KILN_LOCAL_FUNCTION_KEY';
export const ADMIN_KEY_SETTING = 'KILN_LOCAL_ADMIN_KEY';

function newKey(): string {
  return randomBytes(24).toString('base64url');
}

async function readSaved(path: string): Promise<Partial<HostKeys>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  let saved: Partial<HostKeys> | null;
  try {
    saved = JSON.parse(text) as Partial<HostKeys> | null;
  } catch {
    saved = null;
  }
  if (typeof saved !== 'object' || saved === null || typeof saved.function !== 'string' || typeof saved.admin !== 'string') {
    throw new Error(`${path}: expected {"function": "...", "admin": "..."}, found ${text.slice(0, 80)}`);
  }
  return saved;
}

/** Explicit keys win, then the settings, then the keys saved under `home`; missing ones are generated and saved. */
export async function resolveKeys(
  home: string,
  settings: Record<string, string | undefined>,
  explicit: Partial<HostKeys> = {},
): Promise<HostKeys> {
  const path = join(home, 'keys.json');
  const saved = await readSaved(path);
  const keys: HostKeys = {
    function: explicit.function || settings[FUNCTION_KEY_SETTING] || saved.function || newKey(),
    admin: explicit.admin || settings[ADMIN_KEY_SETTING] || saved.admin || newKey(),
  };
  if (keys.function === keys.admin) throw new Error('host keys: the function key and the admin key must differ');
  if (keys.function !== saved.function || keys.admin !== saved.admin) {
    await writeFile(path, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  }
  return keys;
}
