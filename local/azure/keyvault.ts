/**
 * The emulated Key Vault (secrets only), on an HTTPS origin of its own as the SDK needs: get, set, list secrets and
 * versions, with the challenge-auth handshake and Key Vault's error bodies. Secret values are never logged.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultController } from './faults.ts';
import { openSecretStore, type SecretInput, type SecretStore, type SecretVersion, type StoredSecret } from './keyvault-store.ts';

export interface KeyVaultServerOptions {
  home: string;
  /** Default 0 (a free port). */
  port?: number;
  tls: { certPem: string; keyPem: string };
  faults?: FaultController;
  /** Tenant named in the challenge; default the local environment's tenant. */
  tenantId?: string;
  /** When set, only this bearer token is accepted; otherwise any bearer token is. */
  token?: string;
  /** Secrets to create at start when the vault does not have them yet (a seed never overwrites). */
  seedSecrets?: Record<string, string>;
}

export interface KeyVaultServer {
  /** The vault URL: the root of an origin, as the SDK requires. */
  url: string;
  port: number;
  /** Creates each secret that does not exist yet. */
  seedSecrets(secrets: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export const KEY_VAULT_API_VERSIONS = ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6-preview.2', '7.6', '2025-07-01', '2026-04-01'];
const LATEST_API_VERSION = '2026-04-01';
const DEFAULT_TENANT = '00000000-0000-0000-0000-000000000001';
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION = /^[0-9a-f]{32}$/i;
const MAX_BODY_BYTES = 256 * 1024;
/** Key Vault's limit on a secret value. */
const MAX_VALUE_BYTES = 25 * 1024;
const PAGE_SIZE = 25;

class KeyVaultError extends Error {
  override name = 'KeyVaultError';
  readonly status: number;
  readonly code: string;
  readonly innerCode?: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, options: { innerCode?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.innerCode = options.innerCode;
    this.headers = options.headers ?? {};
  }
}

const badParameter = (message: string) => new KeyVaultError(400, 'BadParameter', message);

const methodNotAllowed = (method: string, path: string) =>
  new KeyVaultError(405, 'MethodNotAllowed', `The method ${method} is not supported by this emulated vault on ${path}.`);

const secretNotFound = (name: string) =>
  new KeyVaultError(
    404,
    'SecretNotFound',
    `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

interface VaultRequest {
  method: string;
  segments: string[];
  query: URLSearchParams;
  body: Buffer;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => (size > MAX_BODY_BYTES ? reject(badParameter(`The request body exceeds ${MAX_BODY_BYTES} bytes.`)) : resolve(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

function checkName(name: string): string {
  if (!SECRET_NAME.test(name)) {
    throw badParameter(`The request URI contains an invalid name: ${name} (expected 1-127 letters, digits and dashes)`);
  }
  return name;
}

function optionalNumber(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw badParameter(`Property 'attributes.${field}': expected Unix seconds (a number), found ${JSON.stringify(value)}`);
  }
  return value;
}

/** The PUT body, validated field by field; the value itself never appears in an error. */
function parseSetBody(raw: Buffer): SecretInput {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badParameter('The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badParameter('The request body must be a JSON object.');
  const fields = body as Record<string, unknown>;
  if (typeof fields.value !== 'string') {
    throw badParameter(`Property 'value' is required and must be a string, found ${fields.value === undefined ? 'nothing' : typeof fields.value}.`);
  }
  if (Buffer.byteLength(fields.value) > MAX_VALUE_BYTES) throw badParameter(`Property 'value' exceeds the maximum size of ${MAX_VALUE_BYTES} bytes.`);
  const input: SecretInput = { value: fields.value };
  if (fields.contentType !== undefined && fields.contentType !== null) {
    if (typeof fields.contentType !== 'string') throw badParameter(`Property 'contentType' must be a string, found ${typeof fields.contentType}.`);
    input.contentType = fields.contentType;
  }
  if (fields.tags !== undefined && fields.tags !== null) {
    const tags = fields.tags;
    if (typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some((tag) => typeof tag !== 'string')) {
      throw badParameter(`Property 'tags' must be an object of string values.`);
    }
    input.tags = tags as Record<string, string>;
  }
  const attributes = fields.attributes;
  if (attributes !== undefined && attributes !== null) {
    if (typeof attributes !== 'object' || Array.isArray(attributes)) throw badParameter(`Property 'attributes' must be an object.`);
    const attrs = attributes as Record<string, unknown>;
    if (attrs.enabled !== undefined && attrs.enabled !== null) {
      if (typeof attrs.enabled !== 'boolean') throw badParameter(`Property 'attributes.enabled' must be a boolean, found ${JSON.stringify(attrs.enabled)}.`);
      input.enabled = attrs.enabled;
    }
    const nbf = optionalNumber(attrs, 'nbf');
    const exp = optionalNumber(attrs, 'exp');
    if (nbf !== undefined) input.nbf = nbf;
    if (exp !== undefined) input.exp = exp;
  }
  return input;
}

function attributesOf(version: SecretVersion) {
  return { ...version.attributes, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 };
}

function optionalFields(version: SecretVersion) {
  return {
    ...(version.contentType !== undefined ? { contentType: version.contentType } : {}),
    ...(version.tags !== undefined ? { tags: version.tags } : {}),
  };
}

export async function startKeyVaultServer(options: KeyVaultServerOptions): Promise<KeyVaultServer> {
  const store: SecretStore = await openSecretStore(options.home);
  const tenantId = options.tenantId ?? DEFAULT_TENANT;
  let url = '';

  const seedSecrets = async (secrets: Record<string, string>): Promise<void> => {
    for (const [name, value] of Object.entries(secrets)) {
      checkName(name);
      if (!store.get(name)) await store.set(name, { value });
    }
  };
  await seedSecrets(options.seedSecrets ?? {});

  const bundle = (secret: StoredSecret, version: SecretVersion) => ({
    value: version.value,
    id: `${url}/secrets/${secret.name}/${version.version}`,
    ...optionalFields(version),
    attributes: attributesOf(version),
  });

  const page = <T>(items: T[], request: VaultRequest, path: string) => {
    const rawMax = request.query.get('maxresults');
    const max = rawMax === null ? PAGE_SIZE : Number(rawMax);
    if (!Number.isInteger(max) || max < 1 || max > PAGE_SIZE) {
      throw badParameter(`Query parameter 'maxresults': expected an integer from 1 to ${PAGE_SIZE}, found ${JSON.stringify(rawMax)}.`);
    }
    const rawSkip = request.query.get('$skiptoken') ?? '0';
    const skip = Number(rawSkip);
    if (!Number.isInteger(skip) || skip < 0) throw badParameter(`Query parameter '$skiptoken' is not valid: ${JSON.stringify(rawSkip)}.`);
    const next = skip + max < items.length ? new URL(`${url}${path}`) : undefined;
    if (next) {
      next.searchParams.set('api-version', request.query.get('api-version') ?? LATEST_API_VERSION);
      next.searchParams.set('maxresults', String(max));
      next.searchParams.set('$skiptoken', String(skip + max));
    }
    return { value: items.slice(skip, skip + max), nextLink: next ? next.toString() : null };
  };

  const readable = (name: string, version: SecretVersion): SecretVersion => {
    if (!version.attributes.enabled) {
      throw new KeyVaultError(403, 'Forbidden', `Operation get is not allowed on a disabled secret (${name}).`, { innerCode: 'SecretDisabled' });
    }
    return version;
  };

  async function route(request: VaultRequest): Promise<{ status: number; body: unknown }> {
    const [collection, rawName, third, ...rest] = request.segments;
    if (collection !== 'secrets' || rest.length > 0) {
      throw new KeyVaultError(404, 'NotFound', `The requested path /${request.segments.join('/')} is not an operation of this emulated vault (secrets only).`);
    }
    if (rawName === undefined || (rawName === '' && third === undefined)) {
      if (request.method !== 'GET') throw methodNotAllowed(request.method, '/secrets');
      const items = store.list().map((secret) => {
        const current = secret.versions.at(-1)!;
        return { id: `${url}/secrets/${secret.name}`, ...optionalFields(current), attributes: attributesOf(current) };
      });
      return { status: 200, body: page(items, request, '/secrets') };
    }
    const name = checkName(rawName);
    if (third === 'versions') {
      if (request.method !== 'GET') throw methodNotAllowed(request.method, `/secrets/${name}/versions`);
      const secret = store.get(name);
      if (!secret) throw secretNotFound(name);
      const items = secret.versions.map((version) => ({
        id: `${url}/secrets/${secret.name}/${version.version}`,
        ...optionalFields(version),
        attributes: attributesOf(version),
      }));
      return { status: 200, body: page(items, request, `/secrets/${name}/versions`) };
    }
    if (request.method === 'PUT' && (third === undefined || third === '')) {
      const input = parseSetBody(request.body);
      const version = await store.set(name, input);
      return { status: 200, body: bundle(store.get(name)!, version) };
    }
    if (request.method === 'GET') {
      const secret = store.get(name);
      if (!secret) throw secretNotFound(name);
      if (third === undefined || third === '') return { status: 200, body: bundle(secret, readable(name, secret.versions.at(-1)!)) };
      if (!VERSION.test(third)) throw badParameter(`The request URI contains an invalid version: ${third}`);
      const version = secret.versions.find((candidate) => candidate.version.toLowerCase() === third.toLowerCase());
      if (!version) throw secretNotFound(`${name}/${third}`);
      return { status: 200, body: bundle(secret, readable(name, version)) };
    }
    throw methodNotAllowed(request.method, `/secrets/${name}${third ? `/${third}` : ''}`);
  }

  const operationName = (method: string, segments: string[]): string => {
    if (segments[2] === 'versions') return 'secrets.listVersions';
    if (segments.length <= 1) return 'secrets.list';
    return method === 'PUT' ? 'secrets.set' : 'secrets.get';
  };

  function challenge(message: string): KeyVaultError {
    return new KeyVaultError(401, 'Unauthorized', message, {
      headers: { 'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"` },
    });
  }

  async function handle(incoming: IncomingMessage): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    // The SDK's first request has no token and an empty body: answer the challenge before looking at anything else.
    const body = await readBody(incoming);
    const authorization = incoming.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) throw challenge('AKV10000: Request is missing a Bearer or PoP token.');
    if (options.token !== undefined && authorization.slice('Bearer '.length) !== options.token) {
      throw challenge('AKV10022: Invalid audience or token.');
    }
    const parsed = new URL(incoming.url ?? '/', 'https://vault.invalid');
    const segments = parsed.pathname.split('/').filter((segment, index, all) => segment !== '' || index === all.length - 1);
    const method = (incoming.method ?? 'GET').toUpperCase();
    const fault = options.faults?.take(
      { operation: operationName(method, segments), method, path: parsed.pathname },
      ['throttle', 'error500'],
    );
    if (fault?.kind === 'throttle') {
      throw new KeyVaultError(429, 'Throttled', fault.message, { headers: { 'retry-after': String(fault.retryAfterSeconds ?? 1) } });
    }
    if (fault) throw new KeyVaultError(500, fault.code, fault.message);
    const apiVersion = parsed.searchParams.get('api-version');
    if (apiVersion === null) throw badParameter(`The 'api-version' query parameter is missing. Supported versions: ${KEY_VAULT_API_VERSIONS.join(', ')}.`);
    if (!KEY_VAULT_API_VERSIONS.includes(apiVersion)) {
      throw badParameter(`The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`);
    }
    return route({ method, segments, query: parsed.searchParams, body });
  }

  function respond(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-ms-request-id': randomUUID(),
      'x-ms-keyvault-service-version': '1.9.0.0',
      ...headers,
    });
    response.end(text);
  }

  const server: Server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (incoming, response) => {
    handle(incoming).then(
      (result) => respond(response, result.status, result.body, result.headers),
      (error: unknown) => {
        if (error instanceof KeyVaultError) {
          const inner = error.innerCode ? { innererror: { code: error.innerCode } } : {};
          respond(response, error.status, { error: { code: error.code, message: error.message, ...inner } }, error.headers);
        } else {
          // Never the request or the secret: only the failure's own message.
          respond(response, 500, { error: { code: 'InternalServerError', message: `The emulated vault failed: ${(error as Error).message}` } });
        }
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `https://127.0.0.1:${port}`;

  return {
    url,
    port,
    seedSecrets,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
