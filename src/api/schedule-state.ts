/** What the schedule timers remember per template (container `schedules`, `{name}.json`): last check, last source seen. */

import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { isNotFound } from '../runs/store.ts';

export const SCHEDULES_CONTAINER = 'schedules';

export interface ScheduleState {
  /** The tick up to which the template's patch schedule has been handled (ISO). */
  patchCheckedAt?: string;
  /** The marketplace version the last source-update check saw. */
  sourceVersion?: string;
}

export class ScheduleStateStore {
  readonly #container: ContainerClient;

  constructor(container: ContainerClient) {
    this.#container = container;
  }

  async get(templateName: string): Promise<ScheduleState> {
    try {
      const buffer = await this.#container.getBlobClient(`${templateName}.json`).downloadToBuffer();
      return JSON.parse(buffer.toString('utf8')) as ScheduleState;
    } catch (error) {
      if (isNotFound(error)) return {};
      throw error;
    }
  }

  async update(templateName: string, change: Partial<ScheduleState>): Promise<void> {
    const body = JSON.stringify({ ...(await this.get(templateName)), ...change });
    await this.#container.getBlockBlobClient(`${templateName}.json`).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }
}

/** The schedule state store on a blob service (container created if missing). */
export async function openScheduleStateStore(blobs: BlobServiceClient): Promise<ScheduleStateStore> {
  const container = blobs.getContainerClient(SCHEDULES_CONTAINER);
  await container.createIfNotExists();
  return new ScheduleStateStore(container);
}
