/** A begin… activity that looks once at its operation before answering, as the bake expects of every one it awaits. */

import type { OperationRef, OperationStatus } from './contracts.ts';

/**
 * Wraps `begin`: an operation still running is looked at once more (`look`, i.e. pollOperation) before the answer. Many
 * end within moments, and the look costs one request here instead of another activity round trip through the
 * orchestration.
 */
export function lookingOnce<I>(
  begin: (input: I) => OperationStatus | Promise<OperationStatus>,
  look: (ref: OperationRef) => OperationStatus | Promise<OperationStatus>,
): (input: I) => Promise<OperationStatus> {
  return async (input) => {
    const begun = await begin(input);
    return begun.state === 'InProgress' ? look(begun.operation) : begun;
  };
}
