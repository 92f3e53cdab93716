/**
 * The reads preflight and the plan both make (the source, the target definitions, the scale sets): within one plan
 * step each goes to Azure once, and both sides get the same answer.
 */

import type { AzureClients } from '../azure/clients.ts';
import { getImageDefinition, getImageVersion, latestVersion } from '../azure/galleries.ts';
import { getManagedImage } from '../azure/images.ts';
import { latestPlatformImageVersion, type PlatformImageRef } from '../azure/marketplace.ts';
import { normalizeRegion } from '../azure/regions.ts';
import { getScaleSet } from '../azure/scaleSets.ts';

export class PlanReads {
  readonly clients: AzureClients;
  readonly #answers = new Map<string, Promise<unknown>>();

  constructor(clients: AzureClients) {
    this.clients = clients;
  }

  /** Azure ids are case-insensitive: one read per resource however a template spells it. */
  #once<T>(key: string, read: () => Promise<T>): Promise<T> {
    const k = key.toLowerCase();
    let answer = this.#answers.get(k) as Promise<T> | undefined;
    if (!answer) {
      answer = read();
      this.#answers.set(k, answer);
    }
    return answer;
  }

  imageDefinition(id: string) {
    return this.#once(`definition ${id}`, () => getImageDefinition(this.clients, id));
  }

  imageVersion(id: string) {
    return this.#once(`version ${id}`, () => getImageVersion(this.clients, id));
  }

  latestVersion(definitionId: string) {
    return this.#once(`latest ${definitionId}`, () => latestVersion(this.clients, definitionId));
  }

  managedImage(id: string) {
    return this.#once(`image ${id}`, () => getManagedImage(this.clients, id));
  }

  latestPlatformImageVersion(ref: PlatformImageRef) {
    const location = normalizeRegion(ref.location);
    return this.#once(`marketplace ${location}:${ref.publisher}:${ref.offer}:${ref.sku}`, () => latestPlatformImageVersion(this.clients, { ...ref, location }));
  }

  scaleSet(id: string) {
    return this.#once(`scale set ${id}`, () => getScaleSet(this.clients, id));
  }
}
