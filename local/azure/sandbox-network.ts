/**
 * The host side of guests' networks: a forward proxy (plain HTTP and CONNECT) on a unix socket that lets a guest reach
 * public addresses and the emulator's files endpoint, and never the host's loopback, link-local (169.254.169.254) or
 * private addresses; and the files endpoint itself, served over TLS on a second unix socket.
 */
import { lookup } from 'node:dns/promises';
import { mkdir, rm } from 'node:fs/promises';
import { request as httpRequest, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { BlockList, connect, createServer as createNetServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

/** The emulator's files endpoint (`https://127.0.0.1:{port}/kiln-files/…`) as guests reach it. */
export interface GuestFiles {
  /** The ARM port the endpoint's URL names; undefined until the emulator listens. */
  port(): number | undefined;
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
  certPem: string;
  keyPem: string;
}

export const PROXY_SOCKET = 'proxy.sock';
export const FILES_SOCKET = 'files.sock';
/** Blob storage as an Azure VM reaches its storage account: locally, Azurite on the host's loopback. */
export const STORAGE_SOCKET = 'storage.sock';

/** Address ranges an Azure VM cannot reach on the internet side: loopback, private, link-local, CGNAT, multicast… */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** Whether a guest may connect to this IP address: a public one, not the host's or its networks'. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPublicAddress(mapped[1]!);
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export type Destination =
  | { kind: 'files' }
  | { kind: 'public'; address: string; port: number }
  | { kind: 'refused'; reason: string };

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true })).map((entry) => entry.address);

/**
 * Where a guest's request for `host:port` goes. The name is resolved here and the connection made to the address
 * checked, so a name that resolves to a private address (or changes its answer) cannot reach the host.
 */
export async function decideDestination(host: string, port: number, filesPort: number | undefined, resolveName: Resolver = systemResolver): Promise<Destination> {
  const name = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { kind: 'refused', reason: `port: expected 1 to 65535, found ${JSON.stringify(port)}` };
  if (filesPort !== undefined && port === filesPort && ['127.0.0.1', 'localhost', '::1'].includes(name)) return { kind: 'files' };
  let addresses: string[];
  try {
    addresses = isIP(name) ? [name] : await resolveName(name);
  } catch (error) {
    return { kind: 'refused', reason: `cannot resolve ${name} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  const blocked = addresses.find((address) => !isPublicAddress(address));
  if (blocked !== undefined || addresses.length === 0) {
    return { kind: 'refused', reason: `${name} is ${blocked ?? 'no address'}: guests reach public addresses only (not the host's loopback, link-local or private networks)` };
  }
  return { kind: 'public', address: addresses[0]!, port };
}

function refuse(socket: Duplex, status: string, reason: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(reason) + 1}\r\n\r\n${reason}\n`);
}

export interface GuestNetwork {
  /** The directory holding the sockets (bind-mounted read-only into every guest). */
  dir: string;
  close(): Promise<void>;
}

function listenOn(server: NetServer, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

/**
 * Starts the proxy, files and storage sockets in `dir` (replacing stale ones a killed emulator left). The storage
 * socket relays to `storagePort()` on the host's loopback and nowhere else (a SAS URL a build VM downloads from).
 */
export async function startGuestNetwork(dir: string, files: GuestFiles | undefined, storagePort: () => number | undefined = () => undefined, resolveName: Resolver = systemResolver): Promise<GuestNetwork> {
  await mkdir(dir, { recursive: true });
  const storage = createNetServer((guestSide) => {
    const port = storagePort();
    if (port === undefined) return void guestSide.destroy();
    const hostSide = connect(port, '127.0.0.1');
    guestSide.pipe(hostSide).pipe(guestSide);
    guestSide.on('error', () => hostSide.destroy());
    hostSide.on('error', () => guestSide.destroy());
  });
  const filesServer = createHttpsServer({ cert: files?.certPem, key: files?.keyPem }, (req, res) => {
    if (!files) return void res.writeHead(404).end();
    files.serve(req, res).catch(() => res.destroy());
  });
  const proxy = createHttpServer(async (req, res) => {
    // Plain HTTP through the proxy: the request line holds an absolute URL (apt's http mirrors).
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end('expected an absolute http:// URL in the request line\n');
    }
    if (url.protocol !== 'http:') return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`expected http://, found ${url.protocol} (use CONNECT for https)\n`);
    const destination = await decideDestination(url.hostname, Number(url.port || 80), files?.port(), resolveName);
    if (destination.kind !== 'public') {
      const reason = destination.kind === 'refused' ? destination.reason : 'the files endpoint speaks https only';
      return void res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`${reason}\n`);
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !name.startsWith('proxy-')));
    const upstream = httpRequest({ host: destination.address, port: destination.port, method: req.method, path: `${url.pathname}${url.search}`, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => (res.headersSent ? res.destroy() : res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`${error.message}\n`)));
    req.pipe(upstream);
  });
  proxy.on('connect', async (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const target = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(req.url ?? '');
    if (!target) return refuse(socket, '400 Bad Request', `CONNECT: expected host:port, found ${JSON.stringify(req.url)}`);
    const destination = await decideDestination(target[1]!, Number(target[2]), files?.port(), resolveName);
    if (destination.kind === 'refused') return refuse(socket, '403 Forbidden', destination.reason);
    if (destination.kind === 'files') {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) socket.unshift(head);
      filesServer.emit('connection', socket);
      return;
    }
    const upstream = connect(destination.port, destination.address, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', (error) => (socket.writable ? refuse(socket, '502 Bad Gateway', error.message) : socket.destroy()));
  });
  const servers: Array<[NetServer, string]> = [[proxy, PROXY_SOCKET], [filesServer, FILES_SOCKET], [storage, STORAGE_SOCKET]];
  for (const [server, name] of servers) {
    await rm(join(dir, name), { force: true });
    await listenOn(server, join(dir, name));
  }
  return {
    dir,
    async close() {
      for (const [server] of servers) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ('closeAllConnections' in server) (server as Server).closeAllConnections();
        });
      }
    },
  };
}
