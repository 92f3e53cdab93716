/** The contract between the local Functions host and the durable engine (local/host/durable/engine.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from './clock.ts';

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

/** What the host gives the engine when it creates it. */
export interface DurableEngineOptions {
  invoker: FunctionInvoker;
  clock: Clock;
  /** SQLite file for the engine's state (under the host's home). */
  dbPath: string;
  /** host.json extensions.durableTask.hubName, %SETTING% references resolved; 'TestHubName' when absent. */
  hubName: string;
  /** host.json extensions.durableTask limits (defaults 10 and 10 as on Azure's consumption plans). */
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  /** Where the engine writes diagnostics (never secrets). */
  log: (message: string) => void;
}

/** The engine's side, as the host uses it. */
export interface DurableEngine {
  /** The value of every `durableClient` extra input; `baseUrl` is the host's origin, e.g. http://127.0.0.1:7071. */
  clientInput(baseUrl: string): Record<string, unknown>;
  /**
   * Serves the engine's HTTP routes (`/durabletask/…` for the client's RPC calls, `/runtime/webhooks/durabletask/…`)
   * on the host's server. Resolves false, without touching `res`, when the path is not one of them.
   */
  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Resumes every unfinished instance from the store; called once the app is registered and the server listens. */
  start(): Promise<void>;
  /** Stops dispatching, waits briefly for in-flight work, closes the store. */
  stop(): Promise<void>;
  /** True when nothing runs and nothing is runnable: only future durable timers (or nothing) remain. */
  isIdle(): boolean;
}

