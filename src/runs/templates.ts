/** Stored templates in blob container `templates` (`{name}.json`); dropping a blob there also starts a bake. */

import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { isNotFound } from './store.ts';

export const TEMPLATES_CONTAINER = 'templates';

const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

export class TemplateNameError extends Error {
  override name = 'TemplateNameError';
}

export class TemplateStore {
  readonly container: ContainerClient;

  constructor(container: ContainerClient) {
    this.container = container;
  }

  /** The template's JSON as stored; undefined when there is none. */
  async get(name: string): Promise<unknown> {
    try {
      const buffer = await this.blob(name).downloadToBuffer();
      return JSON.parse(buffer.toString('utf8'));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates or replaces the template. */
  async put(name: string, template: unknown): Promise<void> {
    const body = JSON.stringify(template, null, 2);
    await this.blob(name).upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  }

  /** Deletes the template; false when there was none. */
  async delete(name: string): Promise<boolean> {
    return (await this.blob(name).deleteIfExists()).succeeded;
  }

  /** Every stored template's name. */
  async list(): Promise<string[]> {
    const names: string[] = [];
    for await (const item of this.container.listBlobsFlat()) {
      if (item.name.endsWith('.json')) names.push(item.name.slice(0, -'.json'.length));
    }
    return names;
  }

  private blob(name: string) {
    if (!TEMPLATE_NAME.test(name)) {
      throw new TemplateNameError(
        `template name: expected 1–80 letters, digits, '.', '_' or '-' starting with a letter or digit, found ${JSON.stringify(name)}`,
      );
    }
    return this.container.getBlockBlobClient(`${name}.json`);
  }
}

/** The template store on a blob service's `templates` container (created if missing). */
export async function openTemplateStore(blobs: BlobServiceClient): Promise<TemplateStore> {
  const container = blobs.getContainerClient(TEMPLATES_CONTAINER);
  await container.createIfNotExists();
  return new TemplateStore(container);
}
