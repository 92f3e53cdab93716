/** Runs registered functions by name, as the worker would: an InvocationContext, extra inputs, functionTimeout. */
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import azureFunctions, { type FunctionInput, type FunctionOutput, type FunctionTrigger } from '@azure/functions';
import type { FunctionInvoker, InvocationInit } from './engine-contract.ts';
import type { BindingMetadata, RegisteredFunction } from './functions-core.ts';

// The library's webpack bundle hides its classes from Node's named-export detection: take them off the default export.
const { InvocationContext } = azureFunctions;

/** An invocation that ran longer than host.json functionTimeout; its result is discarded. */
export class FunctionTimeoutError extends Error {
  override name = 'FunctionTimeoutError';
}

export interface InvokerOptions {
  functions: ReadonlyMap<string, RegisteredFunction>;
  /** host.json functionTimeout; undefined = no limit. */
  timeoutMs: number | undefined;
  timeoutText: string | undefined;
  /** The value every `durableClient` extra input receives. */
  durableClientInput: () => Record<string, unknown>;
  log: (line: string) => void;
}

export interface HostInvoker extends FunctionInvoker {
  /** Runs an already looked-up function (the triggers use this). */
  run(fn: RegisteredFunction, triggerInput: unknown, init?: InvocationInit): Promise<unknown>;
  /** Invocations started and not yet settled (the host is idle only when none are). */
  inFlight(): number;
}

const DURABLE_CLIENT_TYPES = new Set(['durableClient', 'orchestrationClient']);

/** The registered binding JSON is exactly what the library's option types describe. */
function asOption<T>(binding: BindingMetadata): T {
  return binding as unknown as T;
}

/** Races `work` against the timeout; the handler cannot be stopped, but its invocation fails as on Azure. */
function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FunctionTimeoutError(message)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function createInvoker(options: InvokerOptions): HostInvoker {
  let running = 0;
  const run = (fn: RegisteredFunction, triggerInput: unknown, init: InvocationInit = {}): Promise<unknown> => {
    running++;
    return runOnce(fn, triggerInput, init).finally(() => running--);
  };
  const runOnce = async (fn: RegisteredFunction, triggerInput: unknown, init: InvocationInit): Promise<unknown> => {
    const { metadata } = fn;
    const bindings = Object.values(metadata.bindings);
    const extraInputs = bindings.filter((b) => b.direction === 'in' && b !== fn.trigger);
    const returnBinding = metadata.bindings.$return;
    const extraOutputs = bindings.filter((b) => b.direction === 'out' && b !== returnBinding);
    const invocationId = init.invocationId ?? randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: metadata.name,
      triggerMetadata: init.triggerMetadata,
      logHandler: (level, ...args) => options.log(`[${metadata.name}] ${level}: ${format(...args)}`),
      options: {
        trigger: asOption<FunctionTrigger>(fn.trigger),
        return: returnBinding ? asOption<FunctionOutput>(returnBinding) : undefined,
        extraInputs: extraInputs.map((b) => asOption<FunctionInput>(b)),
        extraOutputs: extraOutputs.map((b) => asOption<FunctionOutput>(b)),
      },
    });
    for (const binding of extraInputs) {
      if (DURABLE_CLIENT_TYPES.has(binding.type)) context.extraInputs.set(binding.name, options.durableClientInput());
    }
    // Handlers may throw synchronously; fold that into the promise.
    const work = Promise.resolve().then(() => fn.handler(triggerInput, context));
    if (options.timeoutMs === undefined) return work;
    return withTimeout(
      work,
      options.timeoutMs,
      `Timeout value of ${options.timeoutText} (host.json functionTimeout) was exceeded by function '${metadata.name}' ` +
        `(invocation ${invocationId})`,
    );
  };

  return {
    run,
    inFlight: () => running,
    find(name) {
      const fn = options.functions.get(name.toLowerCase());
      return fn && { name: fn.metadata.name, triggerType: fn.trigger.type };
    },
    invoke(name, triggerInput, init) {
      const fn = options.functions.get(name.toLowerCase());
      if (!fn) {
        return Promise.reject(
          new Error(`function '${name}' is not registered (registered: ${[...options.functions.values()].map((f) => f.metadata.name).join(', ') || 'none'})`),
        );
      }
      return run(fn, triggerInput, init);
    },
  };
}
