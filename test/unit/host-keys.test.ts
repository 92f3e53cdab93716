import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveKeys } from '../../local/host/keys.ts';

const home = mkdtempSync(join(tmpdir(), 'kiln-host-keys-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('local host keys', () => {
  it('generates distinct keys once and keeps them', async () => {
    const first = await resolveKeys(home, {});
    expect(new Set([first.function, first.admin, first.system]).size).toBe(3);
    expect(first.function.length).toBeGreaterThanOrEqual(32);
    expect(await resolveKeys(home, {})).toEqual(first);
  });

  it('takes keys from the settings over saved ones, and explicit keys over both', async () => {
    const fromSettings = await resolveKeys(home, { KILN_LOCAL_FUNCTION_KEY: 'fn-setting', KILN_LOCAL_ADMIN_KEY: 'admin-setting' });
    expect(fromSettings).toMatchObject({ function: 'fn-setting', admin: 'admin-setting' });
    expect(JSON.parse(readFileSync(join(home, 'keys.json'), 'utf8'))).toEqual(fromSettings);
    expect(await resolveKeys(home, { KILN_LOCAL_FUNCTION_KEY: 'fn-setting' }, { function: 'explicit' })).toEqual({
      function: 'explicit',
      admin: 'admin-setting',
      system: fromSettings.system,
    });
  });

  it('refuses the same key for two levels', async () => {
    await expect(resolveKeys(home, {}, { function: 'same', admin: 'same' })).rejects.toThrow(/must all differ/);
    await expect(resolveKeys(home, {}, { function: 'f', admin: 'a', system: 'a' })).rejects.toThrow(/must all differ/);
  });
});
