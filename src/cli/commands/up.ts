/** `kiln up`: start the local default and stay up; print one ready line (DESIGN §6) when it answers. */

import { Option, type Command } from 'commander';
import { action, homeOption } from './api-options.ts';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error(`expected a port 0–65535, found ${JSON.stringify(value)}`);
  return n;
}

interface UpOptions {
  home: string;
  port?: number;
  armPort?: number;
  keyVaultPort?: number;
  blobPort?: number;
  profile?: string;
  seed?: string;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the local default (Functions host, Azure emulator, Azurite) and stay up')
    .addOption(homeOption())
    .addOption(new Option('--port <n>', 'Functions port (default 7071, or the one this home used)').argParser(port))
    .addOption(new Option('--arm-port <n>', 'ARM emulator port (default 8443)').argParser(port))
    .addOption(new Option('--key-vault-port <n>', 'Key Vault emulator port (default 8444)').argParser(port))
    .addOption(new Option('--blob-port <n>', 'Azurite blob port (default 10000)').argParser(port))
    .addOption(new Option('--profile <name>', 'emulator latency profile').choices(['zero', 'fast', 'realistic']).default('fast'))
    .option('--seed <file>', 'local environment seed (default examples/local-environment.json)')
    .action(action(async (options: UpOptions) => {
      const { startLocalDefault } = await import('../../local/default.ts');
      const local = await startLocalDefault({
        home: options.home,
        functionsPort: options.port,
        armPort: options.armPort,
        keyVaultPort: options.keyVaultPort,
        blobPort: options.blobPort,
        profile: options.profile,
        seedFile: options.seed,
      });
      process.stdout.write(`${JSON.stringify(local.readyLine())}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await local.close();
    }));
}
