/**
 * The ARM HTTPS server: the middleware every request passes (request ids, bearer auth, api-version, injected
 * throttles and 500s, RBAC, JSON body parsing, operation settling) and the dispatch to the route table.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { FaultController } from '../faults.ts';
import { ArmError, errors } from './errors.ts';
import type { ArmRequest, ArmResponse } from './http.ts';
import type { OperationEngine } from './lro.ts';
import type { ApiFamily, RouteMatch, RouteTable } from './routes.ts';

/** The api-versions each family of routes accepts (the installed SDKs' and a few earlier ones). */
const API_VERSIONS: Record<Exclude<ApiFamily, 'none'>, readonly string[]> = {
  compute: ['2023-03-01', '2023-07-01', '2023-09-01', '2024-03-01', '2024-07-01', '2024-11-01', '2025-04-01', '2025-11-01', '2026-03-01', '2026-04-01'],
  gallery: ['2022-03-03', '2022-08-03', '2023-07-03', '2024-03-03', '2025-03-03', '2025-12-03'],
  resources: ['2021-04-01', '2022-09-01', '2023-07-01', '2024-03-01', '2024-07-01', '2024-11-01', '2025-03-01', '2025-04-01'],
  // Microsoft.Compute/skus keeps its own api-version line.
  skus: ['2019-04-01', '2021-07-01'],
  // Managed disks keep theirs too (…-02).
  disk: ['2023-04-02', '2024-03-02', '2025-01-02', '2026-03-02'],
  // Generic resources by id pass whatever api-version the caller chose; Microsoft.Network has one per few months.
  network: [],
  web: ['2022-09-01', '2023-01-01', '2023-12-01', '2024-04-01', '2024-11-01'],
  eventGrid: ['2022-06-15', '2023-12-15-preview', '2024-06-01-preview', '2025-02-15'],
  authorization: ['2015-07-01', '2018-01-01-preview', '2022-04-01'],
};
const NETWORK_API_VERSION = /^20(1[89]|2\d)-\d\d-\d\d$/;

function checkApiVersion(family: ApiFamily, apiVersion: string | null, operation: string): string {
  if (family === 'none') return apiVersion ?? '';
  if (!apiVersion) {
    throw errors.missingApiVersion();
  }
  const known = family === 'network' ? NETWORK_API_VERSION.test(apiVersion) : API_VERSIONS[family].includes(apiVersion);
  // Status monitors are polled with the api-version of the operation they follow (compute or gallery).
  const monitorOk = operation === 'operations.get' && (API_VERSIONS.compute.includes(apiVersion) || API_VERSIONS.gallery.includes(apiVersion) || API_VERSIONS.disk.includes(apiVersion));
  if (!known && !monitorOk) {
    const supported = family === 'network' ? 'dated versions from 2018-01-01' : `'${API_VERSIONS[family].join("', '")}'`;
    throw errors.unsupportedApiVersion(apiVersion, operation, supported, family === 'resources');
  }
  return apiVersion;
}

/** ARM refuses request bodies over 4 MB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * The body as JSON. Over the limit it is refused as soon as that is known, from the Content-Length before a byte is
 * read or when the streamed body passes it, and the rest is never read (the answer closes the connection).
 */
async function readBody(req: IncomingMessage): Promise<unknown> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw errors.requestEntityTooLarge(MAX_BODY_BYTES);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Listeners, not `for await`: leaving that loop early destroys the socket before the 413 is sent.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd).off('error', reject).pause();
      reject(errors.requestEntityTooLarge(MAX_BODY_BYTES));
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw errors.undeserializableContent((error as Error).message);
  }
}

/** Extra routes outside ARM's api-version and JSON conventions (static files, emulator admin). */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface ArmServerOptions {
  cert: string;
  key: string;
  token: string;
  routes: RouteTable;
  ops: OperationEngine;
  faults: FaultController;
  /** Throws (403) for a routed request the caller's grants do not allow (RBAC), before its body is read. */
  authorize?: (request: { method: string; path: string; operation: string }) => void;
  /** Throws (403) for a write whose body references resources the grants do not let the caller use (linked checks). */
  authorizeLinked?: (request: { method: string; path: string; body: unknown }) => void;
  /** Handled before authentication (files a VM downloads). */
  publicRoutes: RawHandler[];
  /** Handled after authentication (emulator admin). */
  adminRoutes: RawHandler[];
  log?: (line: string) => void;
  /** Told of every authenticated ARM request routed to a handler, by method (a benchmark counts them). */
  onRequest?: (method: string) => void;
}

function send(res: ServerResponse, method: string, response: ArmResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  const hasBody = response.body !== undefined && method !== 'HEAD';
  const payload = hasBody ? JSON.stringify(response.body) : '';
  if (hasBody) headers['Content-Type'] = 'application/json; charset=utf-8';
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(response.status, headers);
  res.end(payload);
}

export function errorResponse(error: ArmError): ArmResponse {
  return { status: error.status, body: error.toBody(), headers: error.headers };
}

function findRoute(routes: RouteTable, method: string, path: string, discardBody: () => void): RouteMatch {
  const { match, pathKnown } = routes.match(method, path);
  if (match) return match;
  discardBody();
  if (pathKnown) throw errors.unsupportedOperation(method, path);
  if (/\/providers\/([^/]+)\/([^/]+)/i.test(path)) {
    throw errors.invalidResourceType(path);
  }
  throw errors.noHttpResource(path);
}

async function runRoute(match: RouteMatch, ops: OperationEngine, request: Omit<ArmRequest, 'params' | 'operation'>): Promise<ArmResponse> {
  // Time moves operations on: whatever was due is applied before the handler reads state.
  await ops.settle();
  return match.route.handler({ ...request, params: match.params, operation: match.route.operation });
}

/** Runs a request through the route table in-process (seeding), with the same validation but no faults or auth. */
export async function dispatchInternal(routes: RouteTable, ops: OperationEngine, request: { method: string; path: string; body?: unknown; apiVersion: string; origin: string }): Promise<ArmResponse> {
  const match = findRoute(routes, request.method, request.path, () => undefined);
  const apiVersion = checkApiVersion(match.route.api, request.apiVersion, match.route.operation);
  return runRoute(match, ops, { method: request.method, path: request.path, query: new URLSearchParams({ 'api-version': apiVersion }), apiVersion, body: request.body, origin: request.origin });
}

export function createArmServer(options: ArmServerOptions): Server {
  const { routes, ops, faults, token } = options;
  const log = options.log ?? (() => undefined);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL((req.url ?? '/').replace(/^\/{2,}/, '/'), 'https://127.0.0.1');
    // `resources.*ById` sends `//subscriptions/…`; ARM treats repeated slashes as one.
    const path = url.pathname.replace(/\/{2,}/g, '/').replace(/\/$/, '') || '/';
    const requestId = randomUUID();
    res.setHeader('x-ms-request-id', requestId);
    res.setHeader('x-ms-correlation-request-id', (req.headers['x-ms-correlation-request-id'] as string | undefined) ?? randomUUID());
    res.setHeader('x-ms-routing-request-id', `LOCAL:${requestId}`);

    for (const route of options.publicRoutes) if (await route(req, res, url)) return;

    const auth = req.headers.authorization;
    if (!auth || !/^Bearer\s+\S/i.test(auth)) {
      send(res, method, errorResponse(errors.authorizationMissing()));
      return;
    }
    if (auth.replace(/^Bearer\s+/i, '') !== token) {
      send(res, method, errorResponse(errors.invalidAuthenticationToken()));
      return;
    }

    for (const route of options.adminRoutes) if (await route(req, res, url)) return;

    const match = findRoute(routes, method, path, () => req.resume());
    options.onRequest?.(method);
    const apiVersion = checkApiVersion(match.route.api, url.searchParams.get('api-version'), match.route.operation);
    const fault = faults.take({ operation: match.route.operation, method, path }, ['throttle', 'error500']);
    if (fault) {
      req.resume();
      throw errors.injectedFault(fault);
    }
    options.authorize?.({ method, path, operation: match.route.operation });
    const body = await readBody(req);
    options.authorizeLinked?.({ method, path, body });
    const origin = `https://${req.headers.host ?? '127.0.0.1'}`;
    send(res, method, await runRoute(match, ops, { method, path, query: url.searchParams, apiVersion, body, origin }));
  };

  return createServer({ cert: options.cert, key: options.key }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const armErr = error instanceof ArmError ? error : errors.internalServerError(req.method, req.url, (error as Error).message);
      if (!(error instanceof ArmError)) log(`emulator: ${req.method} ${req.url} failed: ${(error as Error).stack ?? String(error)}`);
      if (res.headersSent) {
        res.end();
        return;
      }
      // A body over the limit is not read on: the connection closes once the answer is sent, as HTTP servers do.
      if (armErr.status === 413) res.setHeader('Connection', 'close');
      else req.resume();
      send(res, (req.method ?? 'GET').toUpperCase(), errorResponse(armErr));
    });
  });
}
