/** The contract between the local Functions host and the durable engine (local/host/durable/engine.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from './clock.ts';
import type { OverridableStates } from './host-json.ts';

/** What the engine may set on an invocation besides the trigger input (the host fills functionName and options). */
export interface InvocationInit {
  invocationId?: string;
  triggerMetadata?: Record<string, unknown>;
}

/** The host's side: run a registered function by name, as the Functions worker would. */
export interface FunctionInvoker {
  /**
   * Runs the function `name` (case-insensitive) with `triggerInput` and resolves to the handler's result, or rejects
   * with the handler's error. An invocation that outlives host.json functionTimeout rejects with a
   * FunctionTimeoutError. An unknown name rejects with an Error naming it.
   */
  invoke(name: string, triggerInput: unknown, init?: InvocationInit): Promise<unknown>;
  /** The registered function `name` (case-insensitive) with its trigger type, e.g. 'orchestrationTrigger'. */
  find(name: string): { name: string; triggerType: string } | undefined;
}

/** Who may call the engine's routes; the host owns the keys. */
export interface DurableAccess {
  /** Added as `code` to the management URLs the client hands out (as the system key is on Azure). */
  systemKey: string;
  /** Secret path segment of the client's RPC routes: on Azure they listen on the worker's own loopback only. */
  rpcToken: string;
  /** True when `given` opens the management webhooks: the system key or the admin (master) key. */
  opensWebhooks(given: string | undefined): boolean;
}

/** What the host gives the engine when it creates it. */
export interface DurableEngineOptions {
  invoker: FunctionInvoker;
  access: DurableAccess;
  clock: Clock;
  /** SQLite file for the engine's state (under the host's home). */
  dbPath: string;
  /** host.json extensions.durableTask.hubName, %SETTING% references resolved; 'TestHubName' when absent. */
  hubName: string;
  /** host.json extensions.durableTask limits (defaults 10 and 10 as on Azure's consumption plans). */
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  /** host.json extensions.durableTask.overridableExistingInstanceStates (default AnyState, as the extension's). */
  overridableExistingInstanceStates: OverridableStates;
  /** Where the engine writes diagnostics (never secrets). */
  log: (message: string) => void;
}

/** The engine's side, as the host uses it. */
export interface DurableEngine {
  /** The value of every `durableClient` extra input; `baseUrl` is the host's origin, e.g. http://127.0.0.1:7071. */
  clientInput(baseUrl: string): Record<string, unknown>;
  /**
   * Serves the engine's HTTP routes (`/durabletask/{rpcToken}/…` for the client's RPC calls,
   * `/runtime/webhooks/durabletask/…` with the system or admin key) on the host's server; 401 without the token or
   * key. Resolves false, without touching `res`, when the path is not one of them.
   */
  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Resumes every unfinished instance from the store; called once the app is registered and the server listens. */
  start(): Promise<void>;
  /** Stops dispatching, waits briefly for in-flight work, closes the store. */
  stop(): Promise<void>;
  /** True when nothing runs and nothing is runnable: only future durable timers (or nothing) remain. */
  isIdle(): boolean;
}

