/** Serves the app's HTTP triggers: route matching, methods, authLevel keys, real HttpRequest/HttpResponse objects. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import azureFunctions, { type Cookie, type HttpResponseInit } from '@azure/functions';
import type { RegisteredFunction } from './functions-core.ts';
import type { HostInvoker } from './invoker.ts';
import { sameKey, type HostKeys } from './keys.ts';
import { sendProblem } from './problem.ts';
import { byPrecedence, compileRoute, type CompiledRoute } from './routes.ts';

// The library's webpack bundle hides its classes from Node's named-export detection: take them off the default export.
const { HttpRequest, HttpResponse } = azureFunctions;
type HttpResponse = InstanceType<typeof HttpResponse>;

type AuthLevel = 'anonymous' | 'function' | 'admin';

interface HttpFunction {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: AuthLevel;
}

export interface HttpTriggerOptions {
  functions: Iterable<RegisteredFunction>;
  routePrefix: string;
  keys: HostKeys;
  invoker: HostInvoker;
  /** Request bodies above this many bytes are refused with 413 (requestBodyLimit reads the app setting). */
  maxRequestBodyBytes: number;
  log: (line: string) => void;
}

/** App setting that moves the host's request body limit, as on Azure. */
export const REQUEST_BODY_LIMIT_SETTING = 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT';
/** Azure Functions refuses a request body over 100 MB (104,857,600 bytes) unless the setting above says otherwise. */
export const DEFAULT_REQUEST_BODY_LIMIT = 104_857_600;

/** The request body limit in bytes: the FUNCTIONS_REQUEST_BODY_SIZE_LIMIT setting, or Azure's 100 MB. */
export function requestBodyLimit(settings: Record<string, string | undefined>): number {
  const raw = settings[REQUEST_BODY_LIMIT_SETTING];
  if (raw === undefined || raw === '') return DEFAULT_REQUEST_BODY_LIMIT;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`setting ${REQUEST_BODY_LIMIT_SETTING}: expected a positive whole number of bytes, found ${JSON.stringify(raw)}`);
  }
  return value;
}

const DEFAULT_METHODS = ['GET', 'POST'];

function httpFunctionOf(fn: RegisteredFunction): HttpFunction {
  const { trigger, metadata } = fn;
  const route = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : metadata.name;
  const methods = Array.isArray(trigger.methods) && trigger.methods.length > 0 ? trigger.methods : DEFAULT_METHODS;
  const authLevel = String(trigger.authLevel ?? 'anonymous').toLowerCase();
  if (authLevel !== 'anonymous' && authLevel !== 'function' && authLevel !== 'admin') {
    throw new Error(`function '${metadata.name}': authLevel expected anonymous, function or admin, found '${authLevel}'`);
  }
  return {
    fn,
    route: compileRoute(route),
    methods: new Set(methods.map((method) => String(method).toUpperCase())),
    authLevel,
  };
}

function isAuthorized(level: AuthLevel, given: string | undefined, keys: HostKeys): boolean {
  if (level === 'anonymous') return true;
  // As on Azure, the admin (master) key also opens function-level routes.
  return sameKey(given, keys.admin) || (level === 'function' && sameKey(given, keys.function));
}

/** The body's bytes, or undefined as soon as more than `limit` arrived (nothing more of it is kept). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** How long the rest of a refused body is still read (and dropped) before the connection is cut. */
const DRAIN_MS = 2_000;

/**
 * 413 as the Functions host answers. The rest of the body is read and dropped, never kept: closing a connection with
 * unread data resets it, and the client could lose the answer. A body still arriving after DRAIN_MS is cut off.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, found: string, limit: number): void {
  sendProblem(res, 413, 'Content Too Large', `${found}; the host accepts at most ${limit} bytes (${REQUEST_BODY_LIMIT_SETTING})`);
  const cutOff = setTimeout(() => req.destroy(), DRAIN_MS);
  cutOff.unref();
  req.once('end', () => clearTimeout(cutOff)).once('close', () => clearTimeout(cutOff));
  req.resume();
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function serializeCookie(cookie: Cookie): string {
  let text = `${cookie.name}=${encodeURIComponent(cookie.value)}`;
  if (cookie.domain) text += `; Domain=${cookie.domain}`;
  if (cookie.path) text += `; Path=${cookie.path}`;
  if (cookie.expires !== undefined) text += `; Expires=${new Date(cookie.expires).toUTCString()}`;
  if (cookie.maxAge !== undefined) text += `; Max-Age=${cookie.maxAge}`;
  if (cookie.secure) text += '; Secure';
  if (cookie.httpOnly) text += '; HttpOnly';
  if (cookie.sameSite) text += `; SameSite=${cookie.sameSite}`;
  return text;
}

/** A handler may return an HttpResponse, an init object, a string body, or nothing (→ 200 empty). */
function toHttpResponse(result: unknown): HttpResponse {
  if (result instanceof HttpResponse) return result;
  if (result === undefined || result === null) return new HttpResponse();
  if (typeof result === 'string') return new HttpResponse({ body: result });
  if (typeof result === 'object') return new HttpResponse(result as HttpResponseInit);
  throw new Error(`expected an HttpResponse, a response init object or a string, found a ${typeof result}`);
}

async function writeResponse(res: ServerResponse, response: HttpResponse, method: string): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (response.cookies.length > 0) headers['set-cookie'] = response.cookies.map(serializeCookie);
  headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(method === 'HEAD' ? undefined : body);
}

export interface HttpTriggers {
  /** Answers a request under the route prefix; 404/405/401 as Functions would. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void>;
  /** Route templates served, for the startup log. */
  describe(): string[];
}

export function createHttpTriggers(options: HttpTriggerOptions): HttpTriggers {
  const routes = [...options.functions]
    .filter((fn) => fn.trigger.type === 'httpTrigger')
    .map(httpFunctionOf)
    .sort((a, b) => byPrecedence(a.route, b.route));
  const prefix = options.routePrefix === '' ? '' : `/${options.routePrefix}`;

  const handle = async (req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void> => {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const underPrefix = prefix === '' || path.toLowerCase() === prefix || path.toLowerCase().startsWith(`${prefix}/`);
    if (!underPrefix) return sendProblem(res, 404, 'Not Found', `no function serves ${path}`);
    const routePath = path.slice(prefix.length).replace(/^\/+|\/+$/g, '');

    const matching = routes
      .map((candidate) => ({ candidate, params: candidate.route.match(routePath) }))
      .filter((found): found is { candidate: HttpFunction; params: Record<string, string> } => found.params !== undefined);
    if (matching.length === 0) return sendProblem(res, 404, 'Not Found', `no function serves ${path}`);
    const chosen = matching.find(({ candidate }) => candidate.methods.has(method));
    if (!chosen) {
      const allowed = [...new Set(matching.flatMap(({ candidate }) => [...candidate.methods]))].sort();
      return sendProblem(res, 405, 'Method Not Allowed', `${path} accepts ${allowed.join(', ')}, not ${method}`, {
        allow: allowed.join(', '),
      });
    }
    const { candidate, params } = chosen;
    const givenKey = url.searchParams.get('code') ?? headersOf(req)['x-functions-key'];
    if (!isAuthorized(candidate.authLevel, givenKey ?? undefined, options.keys)) {
      return sendProblem(
        res,
        401,
        'Unauthorized',
        `${path} needs the ${candidate.authLevel} key in the 'code' query parameter or the x-functions-key header`,
      );
    }

    const limit = options.maxRequestBodyBytes;
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > limit) return refuseTooLarge(req, res, `the request's Content-Length is ${declared} bytes`, limit);

    const name = candidate.fn.metadata.name;
    try {
      const body = await readBody(req, limit);
      if (!body) return refuseTooLarge(req, res, `the request body has more than ${limit} bytes`, limit);
      const request = new HttpRequest({
        method,
        url: url.href,
        headers: headersOf(req),
        params,
        body: body.length > 0 ? { bytes: body } : undefined,
      });
      const result = await options.invoker.run(candidate.fn, request, { triggerMetadata: { ...params } });
      await writeResponse(res, toHttpResponse(result), method);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      options.log(`[${name}] error: ${error instanceof Error ? (error.stack ?? message) : message}`);
      sendProblem(res, 500, 'Internal Server Error', `function '${name}' failed: ${message}`);
    }
  };

  return {
    handle,
    describe: () =>
      routes.map((r) => `${[...r.methods].join(',')} ${prefix}/${r.route.template.replace(/^\/+/, '')} → ${r.fn.metadata.name} (${r.authLevel})`),
  };
}
