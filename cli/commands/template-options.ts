/** Options of the commands that read a template file: ARM parameter values, the resource to bake, the location. */

import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { parseAssignment, readParameterValues } from '../../src/template/arm/parameters.ts';
import type { LoadOptions } from '../../src/template/index.ts';

export interface TemplateOptions {
  param: string[];
  parameters: string[];
  resource?: string;
  location?: string;
  subscription?: string;
  resourceGroup?: string;
}

function assignment(value: string, previous: string[]): string[] {
  if (!parseAssignment(value)) throw new InvalidArgumentError(`expected NAME=VALUE, found ${JSON.stringify(value)}`);
  return [...previous, value];
}

export function addTemplateOptions(command: Command): Command {
  return command
    .option('--param <name=value>', 'an ARM template parameter value (repeatable; wins over --parameters)', assignment, [])
    .option('--parameters <file>', 'an ARM deployment parameters file (*.parameters.json; repeatable, later files win)', (v: string, p: string[]) => [...p, v], [])
    .option('--resource <name>', 'the imageTemplates resource to bake when an ARM template holds several')
    .option('--location <region>', "the region to build in when the template gives none (a properties-only template); also resourceGroup().location")
    .option('--subscription <id>', 'the subscription subscription() and resourceId() mean in ARM expressions')
    .option('--resource-group <name>', 'the resource group resourceGroup() and resourceId() mean in ARM expressions');
}

/** Reads the parameters files and `--param`s into load options; a bad file is an error naming it. */
export async function loadOptionsOf(options: TemplateOptions): Promise<LoadOptions> {
  const parameters: Record<string, unknown> = {};
  for (const file of options.parameters) {
    let json: unknown;
    try {
      json = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    } catch (error) {
      throw new Error(`--parameters ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const read = readParameterValues(json);
    if (read.errors.length > 0) throw new Error(`--parameters ${file}: ${read.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    Object.assign(parameters, read.values);
  }
  for (const text of options.param) {
    const { name, value } = parseAssignment(text) ?? { name: '', value: '' };
    parameters[name] = value;
  }
  return {
    ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
    ...(options.resource ? { resource: options.resource } : {}),
    ...(options.location ? { location: options.location } : {}),
    ...(options.subscription ? { subscriptionId: options.subscription } : {}),
    ...(options.resourceGroup ? { resourceGroup: options.resourceGroup } : {}),
  };
}
