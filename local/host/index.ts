/** Starts the local Functions host: the app's registrations served over HTTP, blob and timer triggers, durable engine. */
import { createServer, type Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { startBlobTriggers, type BlobTriggers } from './blob-triggers.ts';
import { SkippableClock, type Clock } from './clock.ts';
import { createDurableEngine } from './durable/engine.ts';
import type { DurableEngine } from './engine-contract.ts';
import { loadApp } from './functions-core.ts';
import { readHostJson } from './host-json.ts';
import { HostStore } from './host-store.ts';
import { createHttpTriggers, requestBodyLimit } from './http-triggers.ts';
import { createInvoker } from './invoker.ts';
import { resolveKeys, rpcToken, sameKey, type HostKeys } from './keys.ts';
import { sendProblem } from './problem.ts';
import { startTimerTriggers, type TimerTriggers } from './timer-triggers.ts';

/** Setting: how often blob triggers list their containers (ms). */
export const BLOB_POLL_SETTING = 'KILN_LOCAL_BLOB_POLL_MS';
const DEFAULT_BLOB_POLL_MS = 1_000;
const DEFAULT_PORT = 7071;

export interface LocalHostOptions {
  /** The app's entry file (functions/index.ts), which imports every registration. */
  appEntry: string;
  /** The host's state: keys.json, host.db (receipts, timer status), durable.db. */
  home: string;
  /** 0 = a free port (tests). Default 7071, as `func start`. */
  port?: number;
  /** App settings (local.settings.json Values); copied into process.env before the app is imported. */
  settings: Record<string, string>;
  /** host.json; absent = Functions defaults. */
  hostJsonPath?: string;
  keys?: Partial<HostKeys>;
  clock?: Clock;
  /** Where host and function logs go; default stderr. */
  log?: (line: string) => void;
}

export interface LocalHost {
  /** http://127.0.0.1:PORT */
  url: string;
  keys: HostKeys;
  engine: DurableEngine;
  clock: Clock;
  /** Runs one blob-trigger poll now and waits for it (tests). */
  pollBlobs(): Promise<void>;
  /**
   * Resolves once no function runs and the durable engine has nothing runnable, twice in a row across a macrotask:
   * what a test awaits to show that nothing more happens until the clock moves (instead of sleeping in real time).
   */
  whenIdle(options?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

function pollInterval(settings: Record<string, string | undefined>): number {
  const raw = settings[BLOB_POLL_SETTING];
  if (raw === undefined || raw === '') return DEFAULT_BLOB_POLL_MS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`setting ${BLOB_POLL_SETTING}: expected a positive number of milliseconds, found ${JSON.stringify(raw)}`);
  }
  return value;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const home = resolve(options.home);
  await mkdir(home, { recursive: true });
  // The app reads its settings through loadConfig(process.env), as on Azure.
  for (const [name, value] of Object.entries(options.settings)) process.env[name] = value;
  const settings: Record<string, string | undefined> = { ...process.env, ...options.settings };

  const hostSettings = await readHostJson(options.hostJsonPath, settings);
  const keys = await resolveKeys(home, settings, options.keys);
  const clock = options.clock ?? new SkippableClock();
  const functions = await loadApp(resolve(options.appEntry));
  const pollMs = pollInterval(settings);

  const closers: (() => Promise<void> | void)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) {
      try {
        await closer();
      } catch (error) {
        log(`host close: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };

  try {
    const store = new HostStore(join(home, 'host.db'));
    closers.push(() => store.close());

    let baseUrl = '';
    let engine: DurableEngine | undefined;
    const invoker = createInvoker({
      functions,
      timeoutMs: hostSettings.functionTimeoutMs,
      timeoutText: hostSettings.functionTimeoutText,
      durableClientInput: () => {
        if (!engine) throw new Error('the durable engine is not running yet');
        return engine.clientInput(baseUrl);
      },
      log,
    });
    const httpTriggers = createHttpTriggers({
      functions: functions.values(),
      routePrefix: hostSettings.routePrefix,
      keys,
      invoker,
      maxRequestBodyBytes: requestBodyLimit(settings),
      log,
    });

    const server = createServer((req, res) => {
      const served = async (): Promise<void> => {
        if (engine && (await engine.handleHttp(req, res))) return;
        await httpTriggers.handle(req, res, baseUrl);
      };
      served().catch((error: unknown) => {
        log(`host: ${req.method} ${req.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        sendProblem(res, 500, 'Internal Server Error', error instanceof Error ? error.message : String(error));
      });
    });
    const port = await listen(server, options.port ?? DEFAULT_PORT);
    closers.push(
      () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
    );
    baseUrl = `http://127.0.0.1:${port}`;
    // durable-functions rewrites client URLs to localhost:7071 unless the host says where it is.
    if (!options.settings.WEBSITE_HOSTNAME) process.env.WEBSITE_HOSTNAME = `127.0.0.1:${port}`;

    const startedEngine = createDurableEngine({
      invoker,
      access: {
        systemKey: keys.system,
        rpcToken: rpcToken(keys),
        opensWebhooks: (given) => sameKey(given, keys.system) || sameKey(given, keys.admin),
      },
      clock,
      dbPath: join(home, 'durable.db'),
      hubName: hostSettings.hubName,
      maxConcurrentActivityFunctions: hostSettings.maxConcurrentActivityFunctions,
      maxConcurrentOrchestratorFunctions: hostSettings.maxConcurrentOrchestratorFunctions,
      overridableExistingInstanceStates: hostSettings.overridableExistingInstanceStates,
      log,
    });
    engine = startedEngine;
    closers.push(() => startedEngine.stop());
    await startedEngine.start();

    const blobTriggers: BlobTriggers = startBlobTriggers({ functions: functions.values(), settings, store, invoker, pollMs, log });
    closers.push(() => blobTriggers.stop());
    const timerTriggers: TimerTriggers = startTimerTriggers({ functions: functions.values(), settings, store, invoker, clock, log });
    closers.push(() => timerTriggers.stop());

    for (const line of httpTriggers.describe()) log(`host: ${line}`);
    const idle = () => invoker.inFlight() === 0 && startedEngine.isIdle();
    const whenIdle = async ({ timeoutMs = 30_000 } = {}): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (let quietChecks = 0; quietChecks < 2; ) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        quietChecks = idle() ? quietChecks + 1 : 0;
        if (Date.now() > deadline) throw new Error(`host: still busy after ${timeoutMs} ms (${invoker.inFlight()} invocations running)`);
      }
    };
    return { url: baseUrl, keys, engine: startedEngine, clock, pollBlobs: () => blobTriggers.pollNow(), whenIdle, close };
  } catch (error) {
    await close();
    throw error;
  }
}
