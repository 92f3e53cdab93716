/** `kiln approve ID`: open a bake's approval gate so its rollout starts. */

import type { Command } from 'commander';
import { action, addApiOptions, connect, type ApiOptions } from './api-options.ts';

export function registerApprove(program: Command): void {
  addApiOptions(
    program.command('approve').description("approve a bake's rollout").argument('<id>', 'run id').option('--by <name>', 'who approves (recorded)'),
  ).action(action(async (id: string, options: ApiOptions & { by?: string }) => {
    await (await connect(options)).approve(id, options.by);
    process.stdout.write(`approved ${id}\n`);
  }));
}
