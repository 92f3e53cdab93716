/** A typed client for Kiln's HTTP API (docs/design.md §6), as the CLI and other tools use it. */

import type { Problem } from './problem.ts';

/** An API call that answered with an error: the HTTP status and the problem+json body. */
export class KilnApiError extends Error {
  override name = 'KilnApiError';
  readonly statusCode: number;
  readonly problem: Problem | undefined;

  constructor(statusCode: number, problem: Problem | undefined, fallback: string) {
    super(problem?.detail ?? fallback);
    this.statusCode = statusCode;
    this.problem = problem;
  }
}

export interface KilnClientOptions {
  /** The function key (header `x-functions-key`). */
  key?: string;
}

export interface StartedBake {
  id: string;
  /** URL of the run record. */
  location: string;
}

export interface RunLogs {
  id: string;
  logs: { step: string; text: string }[];
  /** Pass back to read only what comes after. */
  cursor: string;
  /** The run had ended before this read: its logs are complete. */
  done: boolean;
  status: string;
}

export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

export class KilnClient {
  readonly #base: string;
  readonly #key: string | undefined;

  /** `endpoint` is the Functions app origin (e.g. http://127.0.0.1:7071); the client adds `/api`. */
  constructor(endpoint: string, options: KilnClientOptions = {}) {
    this.#base = `${endpoint.replace(/\/+$/, '')}/api`;
    this.#key = options.key;
  }

  /** Starts a bake of a template (the AIB JSON) and returns its run id. */
  startBake(template: unknown, options: { templateName?: string } = {}): Promise<StartedBake> {
    const body = options.templateName ? { templateName: options.templateName, template } : template;
    return this.#start('builds', body);
  }

  /** Starts a bake of a template stored under `templates/{name}.json`. */
  startStoredTemplate(templateName: string): Promise<StartedBake> {
    return this.#start('builds', { templateName });
  }

  /** The run record; while the bake runs it also carries `progress` (the orchestration's live status). */
  getRun<T = Record<string, unknown>>(id: string): Promise<T> {
    return this.#json('GET', `builds/${encodeURIComponent(id)}`);
  }

  listRuns<T = Record<string, unknown>>(options: { status?: string; continuationToken?: string; limit?: number } = {}): Promise<Page<T>> {
    const query = new URLSearchParams();
    if (options.status) query.set('status', options.status);
    if (options.continuationToken) query.set('continuationToken', options.continuationToken);
    if (options.limit) query.set('limit', String(options.limit));
    return this.#json('GET', `builds${query.size ? `?${query}` : ''}`);
  }

  /** Every step's log; with the `cursor` of an earlier answer, only what was written since (`done`: nothing more will come). */
  getLogs(id: string, cursor?: string): Promise<RunLogs> {
    const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    return this.#json('GET', `builds/${encodeURIComponent(id)}/logs${query}`);
  }

  async cancel(id: string): Promise<void> {
    await this.#json('POST', `builds/${encodeURIComponent(id)}/cancel`);
  }

  async approve(id: string, by?: string): Promise<void> {
    await this.#json('POST', `builds/${encodeURIComponent(id)}/approve`, by ? { by } : {});
  }

  /** Starts a new run that resumes the failed run `id` from its last good step. */
  retry(id: string): Promise<StartedBake> {
    return this.#start(`builds/${encodeURIComponent(id)}/retry`, {});
  }

  async putTemplate(name: string, template: unknown): Promise<void> {
    await this.#json('PUT', `templates/${encodeURIComponent(name)}`, template);
  }

  /** Stores a file for a template's File step under its sha256 (kiln-upload://sha256/{hex}). */
  async putUpload(sha256: string, bytes: Buffer): Promise<void> {
    await this.#send('PUT', `uploads/${sha256}`, bytes);
  }

  getTemplate(name: string): Promise<unknown> {
    return this.#json('GET', `templates/${encodeURIComponent(name)}`);
  }

  listTemplates(options: { continuationToken?: string } = {}): Promise<Page<{ name: string }>> {
    const query = options.continuationToken ? `?continuationToken=${encodeURIComponent(options.continuationToken)}` : '';
    return this.#json('GET', `templates${query}`);
  }

  async deleteTemplate(name: string): Promise<void> {
    await this.#json('DELETE', `templates/${encodeURIComponent(name)}`);
  }

  async #start(path: string, body: unknown): Promise<StartedBake> {
    const response = await this.#send('POST', path, body);
    const payload = (await response.json()) as { id: string };
    return { id: payload.id, location: response.headers.get('location') ?? `${this.#base}/builds/${payload.id}` };
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#send(method, path, body);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async #send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#key) headers['x-functions-key'] = this.#key;
    const raw = Buffer.isBuffer(body);
    if (body !== undefined) headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
    const url = `${this.#base}/${path}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : raw ? new Uint8Array(body) : JSON.stringify(body) });
    } catch (error) {
      throw new Error(`cannot reach Kiln at ${url}: ${(error as Error).message}`, { cause: error });
    }
    if (!response.ok) {
      const text = await response.text();
      let problem: Problem | undefined;
      try {
        problem = JSON.parse(text) as Problem;
      } catch {
        problem = undefined;
      }
      throw new KilnApiError(response.status, problem, `${method} ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    return response;
  }
}
