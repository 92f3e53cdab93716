/** The poll side of a VHD capture (capture.ts starts it): access grant, then the storage-side copy. */

import type { AzureClients } from '../azure/clients.ts';
import { pollVhdExport, type VhdExportState } from '../azure/vhd.ts';
import type { OperationStatus } from './contracts.ts';
import type { Pollers } from './poll.ts';

export const VHD_EXPORT = 'vhd-export';

/** A VHD export in progress: the adapter's state, on the staging VM. */
export type VhdExportRef = { kind: typeof VHD_EXPORT; resourceId: string } & VhdExportState;

/** The reference to poll an export by (the adapter's state as it is, plus the kind). */
export function vhdExportRef(resourceId: string, state: VhdExportState): VhdExportRef {
  return { kind: VHD_EXPORT, resourceId, ...state };
}

export async function pollVhdExportRef(clients: AzureClients, ref: VhdExportRef): Promise<OperationStatus> {
  const { kind: _kind, resourceId, ...state } = ref;
  const status = await pollVhdExport(clients, state);
  if (status.done) return { state: 'Succeeded' };
  return {
    state: 'InProgress',
    operation: vhdExportRef(resourceId, status.state),
    ...(status.percent !== undefined ? { percent: status.percent } : {}),
  };
}

export const vhdExportPollers: Pollers<typeof VHD_EXPORT> = {
  [VHD_EXPORT]: (env, ref) => pollVhdExportRef(env.clients, ref),
};
