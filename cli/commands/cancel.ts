/** `kiln cancel ID`: ask a running bake to stop; it cleans up its staging resources before it ends. */

import type { Command } from 'commander';
import { action, addApiOptions, connect, type ApiOptions } from './api-options.ts';

export function registerCancel(program: Command): void {
  addApiOptions(program.command('cancel').description('cancel a running bake').argument('<id>', 'run id'))
    .action(action(async (id: string, options: ApiOptions) => {
      await (await connect(options)).cancel(id);
      process.stdout.write(`cancel requested for ${id}\n`);
    }));
}
