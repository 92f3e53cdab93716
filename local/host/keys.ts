/**
 * The host's keys: function, admin (master) and the durable extension's system key (durabletask_extension), given,
 * from settings, or generated once and kept under the host's home; and the checks that compare them.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface HostKeys {
  function: string;
  admin: string;
  /** Opens the durable management webhooks (`/runtime/webhooks/durabletask/…`), as the system key does on Azure. */
  system: string;
}

export const FUNCTION_KEY_SETTING = 'KILN_LOCAL_FUNCTION_KEY';
export const ADMIN_KEY_SETTING = 'KILN_LOCAL_ADMIN_KEY';
export const SYSTEM_KEY_SETTING = 'KILN_LOCAL_SYSTEM_KEY';

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
  if (typeof saved !== 'object' || saved === null || typeof saved.function !== 'string' || typeof saved.admin !== 'string' ||
    (saved.system !== undefined && typeof saved.system !== 'string')) {
    throw new Error(`${path}: expected {"function": "...", "admin": "...", "system": "..."}, found ${text.slice(0, 80)}`);
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
    system: explicit.system || settings[SYSTEM_KEY_SETTING] || saved.system || newKey(),
  };
  if (new Set([keys.function, keys.admin, keys.system]).size !== 3) {
    throw new Error('host keys: the function, admin and system keys must all differ');
  }
  if (keys.function !== saved.function || keys.admin !== saved.admin || keys.system !== saved.system) {
    await writeFile(path, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  }
  return keys;
}

/** Constant-time comparison of a key someone gave with the expected one. */
export function sameKey(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The secret path segment of the DurableClient's RPC routes, derived from the system key (never the key itself). */
export function rpcToken(keys: HostKeys): string {
  return createHmac('sha256', keys.system).update('durabletask-rpc').digest('base64url');
}
