/** Step 3b, the staging network: an NSG that admits nothing from the internet and a VNet with one subnet. */

import { startStagingNetwork } from '../azure/network.ts';
import type { BeginStagingNetworkInput, OperationStatus } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { stagingNames } from './naming.ts';
import { operationStatus, statusOfAll } from './outcomes.ts';

/** Network resources live and die with the staging group, so their cleanup is the group's (stage-group.ts). */
export async function beginStagingNetwork({ plan }: BeginStagingNetworkInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients, config } = activityEnvironment();
    const names = stagingNames(plan.runId, plan.staging.resourceGroupName);
    const handles = await startStagingNetwork(clients, {
      subscriptionId: config.subscriptionId,
      resourceGroup: plan.staging.resourceGroupName,
      location: plan.location,
      vnet: names.vnet,
      subnet: names.subnet,
      nsg: names.nsg,
      tags: { ...plan.staging.tags, 'kiln-run-id': plan.runId },
    });
    return statusOfAll(handles, plan.staging.resourceGroupId);
  });
}
