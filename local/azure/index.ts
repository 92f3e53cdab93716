/** Starts the local Azure emulator: the ARM server (HTTPS) and the Key Vault server, sharing one CA, store and faults. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { createReadStream } from 'node:fs';
import type { HandlerContext } from './arm/context.ts';
import { ArmError, errors } from './arm/errors.ts';
import { createGuestPort } from './arm/guest.ts';
import { WindowsGuests } from './arm/windows-guest.ts';
import { galleryRoutes } from './arm/handlers/galleries.ts';
import { imageRoutes } from './arm/handlers/images.ts';
import { capacityRoutes } from './arm/handlers/capacity.ts';
import { diskRoutes } from './arm/handlers/disks.ts';
import { createDiskAccessStore } from './disk-access-store.ts';
import { createMarketplaceCatalogue, marketplaceRoutes, publishRequest, type MarketplaceCatalogue } from './arm/handlers/marketplace.ts';
import { networkRoutes } from './arm/handlers/network.ts';
import { networkInterfaceRoutes } from './arm/handlers/networkInterfaces.ts';
import { allowEverything, authorizationRoutes, PermissionGrants, type PermissionGrant } from './arm/handlers/authorization.ts';
import { authorizeRequest } from './arm/handlers/authorization-actions.ts';
import { authorizeLinked } from './arm/handlers/authorization-linked.ts';
import { operationRoutes } from './arm/handlers/operations.ts';
import { resourceGroupRoutes } from './arm/handlers/resourceGroups.ts';
import { webAppRoutes } from './arm/handlers/webApps.ts';
import { eventGridRoutes } from './arm/handlers/eventGrid.ts';
import { runCommandRoutes } from './arm/handlers/runCommands.ts';
import { scaleSetRoutes } from './arm/handlers/scaleSets.ts';
import { VM_TYPE, virtualMachineRoutes, vmState } from './arm/handlers/virtualMachines.ts';
import { CORE_LIMITS, checkCoreLimits, type CoreLimits } from './arm/catalogue/vm-sizes.ts';
import { OperationEngine, type TimelineEntry } from './arm/lro.ts';
import { Resources, type StoredResource } from './arm/resources.ts';
import { RouteTable } from './arm/routes.ts';
import { createArmServer, dispatchInternal, errorResponse, type RawHandler } from './arm/server.ts';
import { openSqliteStore } from './arm/store.ts';
import { createFaultController, FaultRuleError, type FaultController } from './faults.ts';
import { startKeyVaultServer } from './keyvault.ts';
import { createLatency } from './latency.ts';
import { createSandbox } from './sandbox.ts';
import type { GuestPowerOff } from './sandbox-types.ts';
import { applySeed, readSeed } from './seed.ts';
import { loadOrCreateCertificate } from './tls.ts';

export const LOCAL_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000000';
export const LOCAL_TENANT_ID = '00000000-0000-0000-0000-000000000001';

export interface AzureEmulatorOptions {
  home: string;
  /** ARM port; default 0 (a free port). */
  port?: number;
  keyVaultPort?: number;
  profile?: string;
  scale?: number;
  /** local/environment.json or another seed; none means an empty subscription. */
  seedFile?: string;
  /** Served at /kiln-files/{path} for File customizers. */
  filesDir?: string;
  /** `off` never runs scripts (as on a machine without user namespaces/overlayfs). */
  isolation?: 'auto' | 'off';
  /** Host paths guests must not see even inside system directories (KILN_HOME, the checkout); the home always. */
  privatePaths?: string[];
  log?: (line: string) => void;
  /** A storage connection string (Azurite's) where disk access publishes VHDs; without it disk access is refused. */
  diskAccessStorage?: string;
  /** What the caller may do, by scope (Microsoft.Authorization/permissions); default the seed's, else everything. */
  permissions?: PermissionGrant[];
  /** The regional vCPU quota, as after a quota increase request; default CORE_LIMITS (a new subscription's). */
  coreLimits?: CoreLimits;
}

export interface AzureEmulator {
  armEndpoint: string;
  keyVaultUrl: string;
  caCertPath: string;
  caPem: string;
  subscriptionId: string;
  tenantId: string;
  token: string;
  faults: FaultController;
  /** The Windows guest stand-in: script pending updates and exit codes (`windowsGuests.set({...})`). */
  windowsGuests: WindowsGuests;
  /** Marketplace image versions; `publish` a newer one to drive a source-update rebuild. */
  marketplace: MarketplaceCatalogue;
  /** The caller's grants as Microsoft.Authorization/permissions lists them; `set` replaces them. */
  permissions: PermissionGrants;
  /** A file inside a VM's or scale-set instance's OS disk, as its guest sees it (undefined when absent). */
  readDiskFile(resourceId: string, path: string): Promise<Buffer | undefined>;
  /**
   * The long-running operations started at or after `since` (epoch ms), oldest first, each with when it started, was
   * due to end (latency profile plus real work such as a script) and was seen to end: a benchmark's critical path.
   */
  timeline(options?: { since?: number }): TimelineEntry[];
  /** How many ARM requests each method has had since the emulator started (a benchmark's cost of looks). */
  requests(): Record<string, number>;
  /** `stopGuests: false` leaves the guests running, as a killed emulator does (they are found again at the next start). */
  close(options?: { stopGuests?: boolean }): Promise<void>;
}

/** The bearer token clients must send; kept under home so a restarted emulator accepts the same one. */
async function loadOrCreateToken(home: string): Promise<string> {
  const file = join(home, 'token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('base64url');
    await writeFile(file, token, { mode: 0o600 });
    return token;
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolvePort((server.address() as AddressInfo).port));
  });
}

/** `GET /kiln-files/{path}`: files a staging VM downloads (no token: VMs fetch them with curl). */
function filesRoute(filesDir: string | undefined): RawHandler {
  return async (req, res, url) => {
    if (!url.pathname.startsWith('/kiln-files/')) return false;
    const root = filesDir ? resolve(filesDir) : undefined;
    const relative = decodeURIComponent(url.pathname.slice('/kiln-files/'.length));
    const file = root ? resolve(root, relative) : undefined;
    const info = file && file.startsWith(root + sep) ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !info?.isFile() || req.method !== 'GET') {
      const body = JSON.stringify(errorResponse(errors.fileNotServed(relative)).body);
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(body);
      return true;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(info.size) });
    createReadStream(file).pipe(res);
    return true;
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }).end(text);
}

/**
 * `/_emulator/faults` (GET, PUT, DELETE), `GET /_emulator/disks?id=…&path=…`, `PUT /_emulator/marketplace`
 * (`{ publisher, offer, sku, version }`), `PUT /_emulator/permissions` (`[{ scope, actions, notActions }]`) and
 * `GET /_emulator/timeline?since=…` for tests in other processes.
 */
function adminRoutes(faults: FaultController, readDiskFile: AzureEmulator['readDiskFile'], marketplace: MarketplaceCatalogue, timeline: AzureEmulator['timeline'], permissions: PermissionGrants): RawHandler {
  return async (req, res, url) => {
    if (!url.pathname.startsWith('/_emulator/')) return false;
    try {
      if (url.pathname === '/_emulator/faults') {
        if (req.method === 'PUT') return sendJson(res, 200, faults.set(await readJson(req))), true;
        if (req.method === 'DELETE') return faults.clear(), sendJson(res, 200, []), true;
        if (req.method === 'GET') return sendJson(res, 200, faults.list()), true;
      }
      if (url.pathname === '/_emulator/marketplace' && req.method === 'PUT') {
        const { image, version } = publishRequest(await readJson(req));
        return sendJson(res, 200, marketplace.publish(image, version)), true;
      }
      if (url.pathname === '/_emulator/permissions' && req.method === 'PUT') return sendJson(res, 200, permissions.set(await readJson(req))), true;
      if (url.pathname === '/_emulator/timeline' && req.method === 'GET') {
        const since = url.searchParams.get('since') ?? '0';
        if (!/^\d+$/.test(since)) throw errors.adminQueryInvalid(`Query parameter since: expected epoch milliseconds, found '${since}'.`);
        return sendJson(res, 200, timeline({ since: Number(since) })), true;
      }
      if (url.pathname === '/_emulator/disks' && req.method === 'GET') {
        const id = url.searchParams.get('id');
        const path = url.searchParams.get('path');
        if (!id || !path) throw errors.adminQueryInvalid('Query parameters id (a VM or scale-set instance id) and path (absolute, in the guest) are required.');
        const content = await readDiskFile(id, path);
        if (content === undefined) throw errors.noDiskFile(path, id);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(content.length) }).end(content);
        return true;
      }
      throw errors.noAdminRoute(req.method, url.pathname);
    } catch (error) {
      // Bad fault rules and bad JSON are the caller's mistake (400); anything else is the server's (500, by the caller).
      const known = error instanceof FaultRuleError || error instanceof SyntaxError ? errors.invalidRequestContent(error.message) : error;
      if (!(known instanceof ArmError)) throw error;
      const response = errorResponse(known);
      sendJson(res, response.status, response.body);
      return true;
    }
  };
}

/** The blob endpoint's port in a storage connection string on the host's loopback (Azurite), if it names one. */
function blobPortOf(connectionString: string | undefined): number | undefined {
  const endpoint = /BlobEndpoint=(https?:\/\/(?:127\.0\.0\.1|localhost):(\d+))/i.exec(connectionString ?? '');
  return endpoint ? Number(endpoint[2]) : undefined;
}

export async function startAzureEmulator(options: AzureEmulatorOptions): Promise<AzureEmulator> {
  const home = resolve(options.home);
  const coreLimits = checkCoreLimits(options.coreLimits ?? CORE_LIMITS);
  await mkdir(home, { recursive: true });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = options.seedFile ? await readSeed(options.seedFile) : undefined;
  const subscriptionId = seed?.subscriptionId ?? LOCAL_SUBSCRIPTION_ID;
  const tenantId = seed?.tenantId ?? LOCAL_TENANT_ID;
  const certificate = await loadOrCreateCertificate(home);
  const token = await loadOrCreateToken(home);
  const faults = createFaultController();
  const latency = createLatency({ profile: options.profile, scale: options.scale });
  const store = openSqliteStore(home);
  const resources = new Resources(store);
  const ops = new OperationEngine(store);

  // A guest that powered itself off (detached deprovision, shutdown): its VM is stopped, as Azure shows it.
  const onGuestPowerOff = (event: GuestPowerOff) => {
    const vm = store.list<StoredResource>('resource').find((r) => r.type === VM_TYPE && vmState(r).disk === event.disk.dir);
    if (!vm || vmState(vm).power !== 'running') return;
    vmState(vm).power = 'stopped';
    if (event.reason === 'deprovision') vmState(vm).agentRemoved = true;
    resources.save(vm);
    noteDetachedWork(vm.id);
  };
  // The guest's detached processes ran from the end of the run command that started them until now: real work.
  const noteDetachedWork = (vmId: string) => {
    const id = vmId.toLowerCase();
    const launcher = ops.timeline().filter((e) => {
      const rc = e.resourceId.toLowerCase();
      return e.dueAt !== undefined && (rc === `${id}/runcommand` || rc.startsWith(`${id}/runcommands/`));
    }).at(-1);
    const now = Date.now();
    if (launcher) ops.note({ operation: 'guest.powerOff', resourceId: `${vmId}/guest`, status: 'Succeeded', startedAt: launcher.dueAt!, dueAt: now, settledAt: now });
  };
  const files = filesRoute(options.filesDir);
  let port: number | undefined;
  const sandbox = await createSandbox({
    home, caPem: certificate.caPem, isolation: options.isolation, onGuestPowerOff, privatePaths: options.privatePaths,
    storagePort: () => blobPortOf(options.diskAccessStorage),
    // Guests fetch `https://127.0.0.1:{port}/kiln-files/…` as the host does, relayed to this handler alone.
    files: {
      port: () => port,
      serve: async (req, res) => {
        if (!(await files(req, res, new URL(req.url ?? '/', 'https://127.0.0.1')))) res.writeHead(404).end();
      },
      certPem: certificate.certPem,
      keyPem: certificate.keyPem,
    },
  });
  const ctx: HandlerContext = {
    subscriptionId, tenantId, resources, ops, latency,
    coreLimits,
    guest: createGuestPort(home, sandbox),
    windowsGuests: new WindowsGuests(),
    marketplace: createMarketplaceCatalogue(),
    ...(options.diskAccessStorage ? { diskAccess: createDiskAccessStore(options.diskAccessStorage) } : {}),
    takeFault: (request, kind) => faults.take(request, [kind]),
  };
  const { marketplace } = ctx;
  const permissions = new PermissionGrants(options.permissions ?? seed?.permissions ?? allowEverything(subscriptionId));
  const routes = new RouteTable().add(
    ...operationRoutes(ctx), ...resourceGroupRoutes(ctx), ...webAppRoutes(ctx), ...eventGridRoutes(ctx), ...networkRoutes(ctx), ...networkInterfaceRoutes(ctx), ...virtualMachineRoutes(ctx),
    ...runCommandRoutes(ctx), ...imageRoutes(ctx), ...galleryRoutes(ctx), ...scaleSetRoutes(ctx),
    ...marketplaceRoutes(ctx), ...capacityRoutes(ctx), ...diskRoutes(ctx), ...authorizationRoutes(ctx, permissions),
  );

  const readDiskFile = async (resourceId: string, path: string): Promise<Buffer | undefined> => {
    const resource = resources.find(resourceId);
    const disk = resource?.state.disk;
    if (typeof disk !== 'string') throw errors.noDisk(resourceId);
    return ctx.guest.readFile(disk, path);
  };

  const timeline = (options: { since?: number } = {}) => ops.timeline(options.since);
  const counts: Record<string, number> = {};
  const requests = () => ({ ...counts });

  const server = createArmServer({
    cert: certificate.certPem, key: certificate.keyPem, token, routes, ops, faults, log,
    onRequest: (method) => void (counts[method] = (counts[method] ?? 0) + 1),
    publicRoutes: [files],
    adminRoutes: [adminRoutes(faults, readDiskFile, marketplace, timeline, permissions)],
    authorize: (request) => authorizeRequest(permissions, request),
    authorizeLinked: (request) => authorizeLinked(permissions, request),
  });
  port = await listen(server, options.port ?? 0);
  const armEndpoint = `https://127.0.0.1:${port}`;

  const keyVault = await startKeyVaultServer({
    home: join(home, 'keyvault'), port: options.keyVaultPort ?? 0, tls: { certPem: certificate.certPem, keyPem: certificate.keyPem },
    faults, tenantId, token, seedSecrets: seed?.secrets,
  });

  const close = async (closeOptions: { stopGuests?: boolean } = {}) => {
    await new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
    await keyVault.close();
    ops.close();
    await sandbox.close(closeOptions);
    store.close();
  };

  if (seed) {
    // The seed is what already exists: it appears at once whatever the latency profile.
    ctx.latency = createLatency({ profile: 'zero' });
    try {
      await applySeed(
        seed,
        async (method, path, apiVersion, body) => {
          const response = await dispatchInternal(routes, ops, { method, path, apiVersion, body, origin: armEndpoint });
          await ops.settleFully();
          return response;
        },
        (id) => resources.find(id) !== undefined,
      );
    } catch (error) {
      await close();
      throw error;
    } finally {
      ctx.latency = latency;
    }
  }

  return { armEndpoint, keyVaultUrl: keyVault.url, caCertPath: certificate.caCertPath, caPem: certificate.caPem, subscriptionId, tenantId, token, faults, windowsGuests: ctx.windowsGuests, marketplace, permissions, readDiskFile, timeline, requests, close };
}
