/** `kiln up`: start the local default and stay up; print one ready line (docs/design.md §6) when it answers. */

import type { Command } from 'commander';
import { action, homeOption } from './api-options.ts';
import { addLocalOptions, localDefaultOptions, type LocalOptions } from './local-options.ts';

export function registerUp(program: Command): void {
  addLocalOptions(
    program
      .command('up')
      .description('start the local default (Functions host, Azure emulator, Azurite) and stay up')
      .addOption(homeOption()),
  ).action(action(async (options: LocalOptions) => {
    const { startLocalDefault } = await import('../../local/default.ts');
    const local = await startLocalDefault(localDefaultOptions(options));
    process.stdout.write(`${JSON.stringify(local.readyLine())}\n`);
    // The ready line's keys are fixed (DESIGN §6): the dashboard's address goes to stderr, for people.
    process.stderr.write(`kiln: dashboard at ${local.functionsUrl}/api/dashboard (it asks for the apiKey of the ready line)\n`);
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
