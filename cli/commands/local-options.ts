/** Options of the commands that start the local default themselves (`kiln up`, `kiln bake` with no endpoint). */

import { Option, type Command } from 'commander';
import type { LocalDefaultOptions } from '../../local/default.ts';

export interface LocalOptions {
  home: string;
  port?: number;
  armPort?: number;
  keyVaultPort?: number;
  blobPort?: number;
  profile: string;
  seed?: string;
  isolation?: 'auto' | 'off';
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error(`expected a port 0–65535, found ${JSON.stringify(value)}`);
  return n;
}

/** Ports (0 = a free one; default: what this home used, else the fixed ones), latency profile, seed. */
export function addLocalOptions(command: Command): Command {
  return command
    .addOption(new Option('--port <n>', 'Functions port (default 7071, or the one this home used)').argParser(port))
    .addOption(new Option('--arm-port <n>', 'ARM emulator port (default 8443; the examples download files from it)').argParser(port))
    .addOption(new Option('--key-vault-port <n>', 'Key Vault emulator port (default 8444)').argParser(port))
    .addOption(new Option('--blob-port <n>', 'Azurite blob port (default 10000)').argParser(port))
    .addOption(new Option('--profile <name>', 'emulator latency profile').choices(['zero', 'fast', 'realistic']).default('fast'))
    .option('--seed <file>', 'local environment seed (default local/environment.json)')
    .addOption(new Option('--isolation <mode>', 'guest isolation: auto (scripts run where the machine can isolate a guest), off (no script runs; every one is reported simulated)').choices(['auto', 'off']));
}

export function localDefaultOptions(options: LocalOptions): LocalDefaultOptions {
  return {
    home: options.home,
    functionsPort: options.port,
    armPort: options.armPort,
    keyVaultPort: options.keyVaultPort,
    blobPort: options.blobPort,
    profile: options.profile,
    seedFile: options.seed,
    ...(options.isolation ? { isolation: options.isolation } : {}),
  };
}
