/** The HTTP routes the DurableClient calls (`/durabletask/…`) and the management webhooks
 * (`/runtime/webhooks/durabletask/…`) that createCheckStatusResponse links to: one route table serves both. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DurableAccess } from '../engine-contract.ts';
import { sameKey } from '../keys.ts';
import { clientSignal, schedulerId } from './entities.ts';
import { purgeInstance, raiseEvent, resumeInstance, startInstance, suspendInstance, terminateInstance, type ControlResult } from './lifecycle.ts';
import { managementUrls, statusJson } from './status.ts';
import type { DurableStore, InstanceQuery } from './store.ts';

export const rpcPrefix = '/durabletask/';
export const webhookPrefix = '/runtime/webhooks/durabletask/';

const DEFAULT_PAGE_SIZE = 100;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface RpcDeps {
  store: DurableStore;
  hubName: string;
  access: DurableAccess;
  now: () => number;
  /** The registered function `name` (case-insensitive) and its trigger type. */
  find: (name: string) => { name: string; triggerType: string } | undefined;
  /** Called after a change that gives the dispatcher new work. */
  kick: () => void;
  pageSize?: number;
  /** A client's start may replace an instance that has not ended (host.json overridableExistingInstanceStates AnyState). */
  replaceRunning: boolean;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body: expected at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** JSON text of a request body; an empty body means "no input" (startNew without input posts ""). */
async function jsonBody(req: IncomingMessage): Promise<string | undefined> {
  const text = (await readBody(req)).trim();
  if (text === '') return undefined;
  try {
    JSON.parse(text);
  } catch {
    throw new HttpError(400, `request body: expected JSON, found ${JSON.stringify(text.slice(0, 80))}`);
  }
  return text;
}

/** Instance ids become URL segments and SQLite keys: keep them printable and unambiguous. */
function checkInstanceId(id: string): void {
  if (id.length === 0 || id.length > 256) throw new HttpError(400, `instanceId: expected 1 to 256 characters, found ${id.length}`);
  if (/[\\/#?\u0000-\u001f\u007f]/.test(id) || id.startsWith('@')) {
    throw new HttpError(400, `instanceId: expected no '/', '\\', '#', '?', control characters or leading '@', found ${JSON.stringify(id)}`);
  }
}

function flag(url: URL, name: string, fallback: boolean): boolean {
  const value = url.searchParams.get(name);
  return value === null ? fallback : value.toLowerCase() === 'true';
}

function dateParam(url: URL, name: string): number | undefined {
  const value = url.searchParams.get(name);
  if (value === null || value === '') return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new HttpError(400, `query ${name}: expected an ISO 8601 date, found ${JSON.stringify(value)}`);
  return at;
}

const knownStatuses = ['Pending', 'Running', 'Completed', 'Failed', 'Terminated', 'Suspended', 'ContinuedAsNew', 'Canceled'];

function instanceQuery(url: URL, token: string | undefined): InstanceQuery {
  const statuses = (url.searchParams.get('runtimeStatus') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of statuses) {
    if (!knownStatuses.includes(s)) throw new HttpError(400, `query runtimeStatus: expected some of ${knownStatuses.join(', ')}, found ${JSON.stringify(s)}`);
  }
  const query: InstanceQuery = { runtimeStatus: statuses, createdFrom: dateParam(url, 'createdTimeFrom'), createdTo: dateParam(url, 'createdTimeTo') };
  if (token) {
    try {
      const after = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
      if (!Array.isArray(after) || typeof after[0] !== 'number' || typeof after[1] !== 'string') throw new Error('shape');
      query.after = [after[0], after[1]];
    } catch {
      throw new HttpError(400, `header x-ms-continuation-token: expected a token from a previous page, found ${JSON.stringify(token)}`);
    }
  }
  return query;
}

function controlAnswer(res: ServerResponse, result: ControlResult, instanceId: string): void {
  if (result === 'not-found') send(res, 404, { message: `No instance with ID '${instanceId}' found.` });
  else if (result === 'gone') send(res, 410, { message: `Instance '${instanceId}' has already finished.` });
  else send(res, 202);
}

function decodeSegments(path: string): string[] {
  const segments = path.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new HttpError(400, `path segment: expected valid percent-encoding, found ${JSON.stringify(segment.slice(0, 80))}`);
    }
  });
  if (segments.at(-1) === '') segments.pop();
  return segments;
}

/**
 * The route's segments once the caller has shown it may call it: the RPC routes take the secret token as their
 * first segment, the webhooks the system or admin key (`code` query parameter or x-functions-key header).
 */
function authorizedSegments(access: DurableAccess, req: IncomingMessage, url: URL, prefix: string): string[] {
  const segments = decodeSegments(url.pathname.slice(prefix.length));
  if (prefix === rpcPrefix) {
    if (!sameKey(segments[0], access.rpcToken)) {
      throw new HttpError(401, 'durable RPC routes are for the DurableClient binding only (its rpcBaseUrl holds the token)');
    }
    return segments.slice(1);
  }
  const header = req.headers['x-functions-key'];
  const given = url.searchParams.get('code') ?? (Array.isArray(header) ? header[0] : header);
  if (!access.opensWebhooks(given)) {
    throw new HttpError(401, `${webhookPrefix}… needs the durable extension's system key or the admin key in the 'code' query parameter or the x-functions-key header`);
  }
  return segments;
}

/** Serves one request if its path is one of the engine's; resolves false otherwise. */
export async function handleDurableHttp(deps: RpcDeps, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  const prefix = [rpcPrefix, webhookPrefix].find((p) => url.pathname.startsWith(p));
  if (!prefix) return false;
  try {
    const segments = authorizedSegments(deps.access, req, url, prefix);
    await route(deps, req, res, url, segments);
  } catch (error) {
    if (error instanceof HttpError) send(res, error.status, { message: error.message });
    else send(res, 500, { message: `durable engine: ${error instanceof Error ? error.message : String(error)}` });
  }
  return true;
}

async function route(deps: RpcDeps, req: IncomingMessage, res: ServerResponse, url: URL, segments: string[]): Promise<void> {
  const { store, now } = deps;
  const method = req.method ?? 'GET';
  const [resource, first, second, third] = segments;
  const base = `${url.origin}${webhookPrefix.slice(0, -1)}`;

  if (resource === 'orchestrators' && method === 'POST' && first !== undefined && segments.length <= 3) {
    const fn = deps.find(first);
    if (!fn || fn.triggerType !== 'orchestrationTrigger') throw new HttpError(400, `orchestrator: no orchestrator function named '${first}' is registered`);
    const instanceId = second ?? randomUUID().replaceAll('-', '');
    checkInstanceId(instanceId);
    const input = (await jsonBody(req)) ?? 'null';
    const version = url.searchParams.get('version') ?? '';
    const result = store.transaction(() => startInstance(store, now(), { instanceId, name: fn.name, version, input }, { replaceRunning: deps.replaceRunning }));
    if (!result.started) throw new HttpError(409, `instance '${instanceId}' already exists and is ${result.status}`);
    deps.kick();
    const payload = managementUrls(base, deps.hubName, instanceId, deps.access.systemKey);
    send(res, 202, payload, { location: payload.statusQueryGetUri! });
    return;
  }

  if (resource === 'instances' && first === undefined) {
    const query = instanceQuery(url, req.headers['x-ms-continuation-token'] as string | undefined);
    if (method === 'GET') {
      const top = Number(url.searchParams.get('top') ?? deps.pageSize ?? DEFAULT_PAGE_SIZE);
      const pageSize = Number.isInteger(top) && top > 0 ? top : DEFAULT_PAGE_SIZE;
      const rows = store.queryInstances({ ...query, limit: pageSize + 1 });
      const page = rows.slice(0, pageSize);
      const headers: Record<string, string> = {};
      const last = page.at(-1);
      if (rows.length > pageSize && last) {
        headers['x-ms-continuation-token'] = Buffer.from(JSON.stringify([last.created_at, last.instance_id])).toString('base64url');
      }
      const options = { showInput: flag(url, 'showInput', true), showHistory: false, showHistoryOutput: false };
      send(res, 200, page.map((row) => statusJson(row, options)), headers);
      return;
    }
    if (method === 'DELETE') {
      const deleted = store.transaction(() => store.queryInstances(query).reduce((n, row) => n + purgeInstance(store, row.instance_id), 0));
      send(res, deleted > 0 ? 200 : 404, { instancesDeleted: deleted });
      return;
    }
  }

  if (resource === 'instances' && first !== undefined) {
    const instanceId = first;
    const reason = url.searchParams.get('reason') ?? '';
    if (second === undefined && method === 'GET') {
      const row = store.getInstance(instanceId);
      if (!row) throw new HttpError(404, `No instance with ID '${instanceId}' found.`);
      const options = { showInput: flag(url, 'showInput', true), showHistory: flag(url, 'showHistory', false), showHistoryOutput: flag(url, 'showHistoryOutput', false) };
      const history = options.showHistory ? store.loadHistory(instanceId) : undefined;
      const running = row.status === 'Running' || row.status === 'Pending';
      send(res, running ? 202 : 200, statusJson(row, options, history));
      return;
    }
    if (second === undefined && method === 'DELETE') {
      const deleted = store.transaction(() => purgeInstance(store, instanceId));
      send(res, deleted > 0 ? 200 : 404, { instancesDeleted: deleted });
      return;
    }
    if (second === 'raiseEvent' && method === 'POST' && third !== undefined && segments.length === 4) {
      const input = await jsonBody(req);
      const result = store.transaction(() => raiseEvent(store, now(), instanceId, third, input));
      deps.kick();
      controlAnswer(res, result, instanceId);
      return;
    }
    if (method === 'POST' && segments.length === 3 && (second === 'terminate' || second === 'suspend' || second === 'resume')) {
      const action = { terminate: terminateInstance, suspend: suspendInstance, resume: resumeInstance }[second];
      const result = store.transaction(() => action(store, now(), instanceId, reason));
      deps.kick();
      controlAnswer(res, result, instanceId);
      return;
    }
    if (method === 'POST' && second === 'rewind') {
      throw new HttpError(501, 'rewind is not supported by the local durable engine');
    }
  }

  if (resource === 'entities' && first !== undefined && second !== undefined) {
    const fn = deps.find(first);
    if (!fn || fn.triggerType !== 'entityTrigger') throw new HttpError(404, `entity: no entity function named '${first}' is registered`);
    // The client puts the key in the path as it is: keys such as resource ids keep their slashes.
    const entityId = schedulerId(first, segments.slice(2).join('/'));
    if (method === 'POST') {
      const op = url.searchParams.get('op');
      if (!op) throw new HttpError(400, 'query op: expected the operation name, found nothing');
      const input = await jsonBody(req);
      store.transaction(() => store.enqueueEntityMessage(entityId, clientSignal(op, input)));
      deps.kick();
      send(res, 202);
      return;
    }
    if (method === 'GET') {
      const entity = store.getEntity(entityId);
      if (!entity || entity.state === null) throw new HttpError(404, `entity ${entityId} does not exist`);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(entity.state);
      return;
    }
  }

  throw new HttpError(404, `durable engine: no route for ${method} ${url.pathname}`);
}
