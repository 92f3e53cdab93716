/** `kiln templates put|list|show|delete`: the stored templates (a put also starts a bake, as any upload does). */

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';
import { addPackerOptions, convertPackerPath, isPackerInput, LOCAL_SUBSCRIPTION_ID, templateFromPacker, uploadFiles, type PackerCliOptions } from './convert.ts';

export function registerTemplates(program: Command): void {
  const templates = program.command('templates').description('manage stored templates');
  addPackerOptions(addApiOptions(
    templates
      .command('put')
      .description('store a template (container templates); storing it starts a bake of it; a Packer template is stored converted')
      .argument('<file>', 'template file, or a Packer template (.json, .pkr.hcl, directory)')
      .option('--name <name>', 'template name (default: the file name without .json)'),
  ), { withTarget: true }).action(action(async (file: string, options: ApiOptions & PackerCliOptions & { name?: string }) => {
    const packer = (await isPackerInput(file)) ? templateFromPacker(await convertPackerPath(file, options, options.endpoint ? undefined : LOCAL_SUBSCRIPTION_ID)) : undefined;
    const template: unknown = packer?.template ?? JSON.parse(await readFile(file, 'utf8'));
    const name = options.name ?? (packer ? String((template as { name: string }).name) : basename(file, extname(file)));
    const client = await connect(options);
    await uploadFiles(client, packer?.uploads ?? [], (line) => process.stdout.write(`${line}\n`));
    await client.putTemplate(name, template);
    process.stdout.write(`stored template ${name}\n`);
  }));
  addApiOptions(templates.command('list').description('list stored templates').option('--json', 'print as JSON'))
    .action(action(async (options: ApiOptions & { json?: boolean }) => {
      const client = await connect(options);
      const names: { name: string }[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await client.listTemplates(continuationToken ? { continuationToken } : {});
        names.push(...page.items);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      if (options.json) return printJson(names);
      for (const t of names) process.stdout.write(`${t.name}\n`);
    }));
  addApiOptions(templates.command('show').description('print a stored template').argument('<name>', 'template name'))
    .action(action(async (name: string, options: ApiOptions) => printJson(await (await connect(options)).getTemplate(name))));
  addApiOptions(templates.command('delete').description('delete a stored template').argument('<name>', 'template name'))
    .action(action(async (name: string, options: ApiOptions) => {
      await (await connect(options)).deleteTemplate(name);
      process.stdout.write(`deleted template ${name}\n`);
    }));
}
