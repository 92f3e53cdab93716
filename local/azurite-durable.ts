/**
 * Runs Azurite's blob service with a durability it can promise: every metadata change is saved to disk before the
 * request that made it is answered (Azurite's own loki stores save every 5 s, so a kill -9 lost acknowledged writes).
 * Started by local/azurite.ts with Azurite's usual command-line options.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface LokiDb {
  autosaveDirty(): boolean;
  saveDatabase(callback: (error?: Error | null) => void): void;
  /** lokijs: a save is being written (later saves queue behind it). */
  throttledSavePending?: boolean;
}

const require = createRequire(import.meta.url);
const azurite = dirname(require.resolve('azurite/package.json'));
const stores = [
  'dist/src/blob/persistence/LokiBlobMetadataStore.js',
  'dist/src/common/persistence/LokiExtentMetadataStore.js',
];
/** Lifecycle methods load, save or drop the whole database themselves. */
const lifecycle = new Set(['constructor', 'init', 'close', 'clean', 'isInitialized', 'isClosed']);

/**
 * Resolves once `db` is on disk. Dirty means a change no save has started on; a pending save may have started
 * before the caller's change was serialized: lokijs runs one more save after it, and its callback waits for that.
 */
function persist(db: LokiDb): Promise<void> {
  if (!db.autosaveDirty() && !db.throttledSavePending) return Promise.resolve();
  return new Promise((resolve, reject) => db.saveDatabase((error) => (error ? reject(error) : resolve())));
}

/** Makes every promise-returning method of a loki-backed store resolve only after its database is saved. */
function saveBeforeAnswering(prototype: Record<string, unknown>): void {
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const original = prototype[name];
    if (lifecycle.has(name) || typeof original !== 'function') continue;
    prototype[name] = function (this: { db: LokiDb }, ...args: unknown[]): unknown {
      const result: unknown = original.apply(this, args);
      if (!(result instanceof Promise)) return result;
      return result.then(
        async (value: unknown) => {
          await persist(this.db);
          return value;
        },
        async (error: unknown) => {
          await persist(this.db);
          throw error;
        },
      );
    };
  }
}

for (const store of stores) {
  const exported = require(join(azurite, store)) as { default: { prototype: Record<string, unknown> } };
  saveBeforeAnswering(exported.default.prototype);
}
// Azurite's blob entry point reads process.argv and starts the server.
require(join(azurite, 'dist/src/blob/main.js'));
