/** Reading a durable instance's state where "missing" and "could not read" must not be confused. */
import type { DurableClient } from 'durable-functions';

/** The instance's runtime status, or undefined when it does not exist; any other failure to read it throws. */
export async function instanceState(client: DurableClient, id: string): Promise<string | undefined> {
  try {
    return (await client.getStatus(id)).runtimeStatus;
  } catch (error) {
    // The client rejects a missing instance with its HTTP 404 in the message, like any other error.
    if (error instanceof Error && /HTTP 404/.test(error.message)) return undefined;
    throw error;
  }
}
