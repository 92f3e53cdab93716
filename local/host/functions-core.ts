/**
 * Provides the module `@azure/functions-core` that @azure/functions 4.x requires at its first registration, and
 * collects what an app registers, as the Functions worker does (the Functions worker protocol).
 */
import Module from 'node:module';
import { pathToFileURL } from 'node:url';

/** One binding of a registered function, as @azure/functions passes it (`type`, `direction`, `name`, trigger fields). */
export interface BindingMetadata {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name: string;
  [field: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
  retryOptions?: unknown;
}

export type FunctionHandler = (triggerInput: unknown, context: unknown) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  handler: FunctionHandler;
  /** The trigger binding (the one `in` binding whose type ends in `Trigger`). */
  trigger: BindingMetadata;
}

const CORE_MODULE_ID = '@azure/functions-core';

/** Registrations land here while an app entry is being imported (the library registers synchronously on import). */
let collecting: Map<string, RegisteredFunction> | undefined;
/** `app.hook.appStart` callbacks registered while an app entry is being imported. */
type AppStartHook = (coreContext: { hookData: Record<string, unknown> }) => unknown;
let collectingHooks: AppStartHook[] | undefined;
/** Each app entry is imported once per process (ESM caches it), so its registrations are kept for later hosts. */
const appsByEntry = new Map<string, Promise<Map<string, RegisteredFunction>>>();
let importQueue: Promise<unknown> = Promise.resolve();

function triggerOf(metadata: FunctionMetadata): BindingMetadata {
  const triggers = Object.values(metadata.bindings).filter(
    (binding) => binding.direction === 'in' && binding.type.endsWith('Trigger'),
  );
  if (triggers.length !== 1) {
    throw new Error(
      `function '${metadata.name}': expected exactly one trigger binding, found ${triggers.length} ` +
        `(${Object.values(metadata.bindings).map((b) => b.type).join(', ') || 'no bindings'})`,
    );
  }
  return triggers[0]!;
}

/** The members @azure/functions 4.x reads; the worker-only ones are left out. */
const coreApi = {
  setProgrammingModel(_programmingModel: unknown): void {
    // The host invokes handlers directly, so the library's invocation model is not needed.
  },
  registerFunction(metadata: FunctionMetadata, handler: FunctionHandler): { dispose(): void } {
    if (!collecting) {
      throw new Error(
        `function '${metadata.name}' was registered outside the app's import; register every function when the app loads`,
      );
    }
    const key = metadata.name.toLowerCase();
    if (collecting.has(key)) throw new Error(`function '${metadata.name}' is registered twice`);
    const target = collecting;
    target.set(key, { metadata, handler, trigger: triggerOf(metadata) });
    return { dispose: () => target.delete(key) };
  },
  registerHook(name: string, callback: AppStartHook): { dispose(): void } {
    if (name !== 'appStart') throw new Error(`app.hook.${name}: the local Functions host runs appStart hooks only`);
    if (!collectingHooks) throw new Error('app.hook.appStart was registered outside the app\'s import; register hooks when the app loads');
    const target = collectingHooks;
    target.push(callback);
    return {
      dispose: () => {
        const at = target.indexOf(callback);
        if (at >= 0) target.splice(at, 1);
      },
    };
  },
  log(level: string, category: string, message: string): void {
    if (level === 'error' || level === 'warning') process.stderr.write(`[functions ${category}] ${level}: ${message}\n`);
  },
};

let installed = false;

/** Answers `require('@azure/functions-core')` with this host's implementation, before any app code loads. */
export function installFunctionsCore(): void {
  if (installed) return;
  installed = true;
  const originalRequire = Module.prototype.require;
  // The worker does the same: wrap require so the id resolves to the host's object (no package on disk needed).
  Module.prototype.require = new Proxy(originalRequire, {
    apply(target, thisArg: NodeJS.Module, args: [string]) {
      return args[0] === CORE_MODULE_ID ? coreApi : Reflect.apply(target, thisArg, args);
    },
  });
}

/**
 * Imports `appEntry` (an absolute path), runs its appStart hooks one after another, and resolves to the functions it
 * registered, keyed by lower-cased name — as Azure's worker runs appStart hooks before its first invocation. A second
 * call with the same entry returns the same registrations (the module is already loaded, its hooks ran once).
 */
export function loadApp(appEntry: string): Promise<Map<string, RegisteredFunction>> {
  installFunctionsCore();
  const existing = appsByEntry.get(appEntry);
  if (existing) return existing;
  // Imports run one at a time so each registration is attributed to the entry being imported.
  const loading = importQueue.then(async () => {
    const registrations = new Map<string, RegisteredFunction>();
    const hooks: AppStartHook[] = [];
    collecting = registrations;
    collectingHooks = hooks;
    try {
      await import(pathToFileURL(appEntry).href);
    } finally {
      collecting = undefined;
      collectingHooks = undefined;
    }
    if (registrations.size === 0) {
      throw new Error(
        `${appEntry} registered no functions. Either it registers none, or it (or @azure/functions) was loaded ` +
          'before the local host: the library then stays in test mode and skips every registration',
      );
    }
    for (const hook of hooks) {
      try {
        await hook({ hookData: {} });
      } catch (error) {
        throw new Error(`${appEntry}: an appStart hook failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
    return registrations;
  });
  importQueue = loading.catch(() => undefined);
  appsByEntry.set(appEntry, loading);
  loading.catch(() => appsByEntry.delete(appEntry));
  return loading;
}
