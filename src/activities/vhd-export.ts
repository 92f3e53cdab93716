/** The poll side of a VHD capture (capture.ts starts it): access grant, then the storage-side copy. */

import type { AzureClients } from '../azure/clients.ts';
import { pollVhdExport, type VhdExportState } from '../azure/vhd.ts';
import type { OperationRef, OperationStatus } from './contracts.ts';

export const VHD_EXPORT = 'vhd-export';

export async function pollVhdExportRef(clients: AzureClients, ref: OperationRef): Promise<OperationStatus> {
  const status = await pollVhdExport(clients, ref.data as unknown as VhdExportState);
  if (status.done) return { state: 'Succeeded' };
  return {
    state: 'InProgress',
    operation: { ...ref, data: status.state },
    ...(status.percent !== undefined ? { percent: status.percent } : {}),
  };
}
