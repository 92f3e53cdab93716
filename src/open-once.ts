/** Something opened once per process (clients, containers): shared while it stands, opened again after a failure. */

/** `open` runs on the first call and its promise is shared; a rejected open is forgotten, so the next call tries again. */
export function openOnce<T>(open: () => Promise<T>): () => Promise<T> {
  let opened: Promise<T> | undefined;
  return () => {
    opened ??= open().catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  };
}
