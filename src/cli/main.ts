/** The `kiln` command line: one subcommand per file in ./commands, registered here in one list. */

import { Command, CommanderError } from 'commander';
import { registerValidate } from './commands/validate.ts';

const program = new Command('kiln')
  .description('Kiln: bake, capture, replicate and roll out Azure VM images from Image Builder templates')
  .showHelpAfterError()
  // Usage errors exit 2, so exit 1 keeps meaning "the command ran and found a problem".
  .exitOverride();

registerValidate(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? 0 : 2;
}
