/** The `kiln` command line: one subcommand per file in ./commands, registered here in one list. */

import { Command, CommanderError } from 'commander';
import { registerValidate } from './commands/validate.ts';
import { registerUp } from './commands/up.ts';
import { registerBake } from './commands/bake.ts';
import { registerStatus } from './commands/status.ts';
import { registerLogs } from './commands/logs.ts';
import { registerCancel } from './commands/cancel.ts';
import { registerApprove } from './commands/approve.ts';
import { registerRetry } from './commands/retry.ts';
import { registerTemplates } from './commands/templates.ts';
import { packerArgv, registerConvert } from './commands/convert.ts';
import { registerPreflight } from './commands/preflight.ts';

const program = new Command('kiln')
  .description('Kiln: bake, capture, replicate and roll out Azure VM images from Image Builder templates')
  .showHelpAfterError()
  // Usage errors exit 2, so exit 1 keeps meaning "the command ran and found a problem".
  .exitOverride();

registerValidate(program);
registerPreflight(program);
registerUp(program);
registerBake(program);
registerStatus(program);
registerLogs(program);
registerCancel(program);
registerApprove(program);
registerRetry(program);
registerTemplates(program);
registerConvert(program);

try {
  await program.parseAsync(packerArgv(process.argv));
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? 0 : 2;
}
