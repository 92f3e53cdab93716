/** `kiln retry ID`: a new run of a failed bake that resumes from its last good step. */

import type { Command } from 'commander';
import { action, addApiOptions, connect, type ApiOptions } from './api-options.ts';

export function registerRetry(program: Command): void {
  addApiOptions(program.command('retry').description('retry a failed bake from its last good step').argument('<id>', 'failed run id'))
    .action(action(async (id: string, options: ApiOptions) => {
      const started = await (await connect(options)).retry(id);
      process.stdout.write(`${started.id}\n`);
    }));
}
