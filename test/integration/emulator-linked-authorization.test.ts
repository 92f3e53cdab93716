// ARM's linked access checks through @azure/arm-resources and @azure/arm-compute: a write that references a subnet,
// NSG, NIC, load balancer, identity or gallery image also needs that resource's join/assign/read action, refused with
// 403 LinkedAuthorizationFailed (after the request's own AuthorizationFailed, before the provider's own checks).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, NETWORK_API, SEED, UBUNTU, failure, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;
let sub: string;
const net = (rest: string) => t.id(`linked/providers/Microsoft.Network/${rest}`);
const VERSION = () => t.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.0');
const IDENTITY = () => t.id('linked/providers/Microsoft.ManagedIdentity/userAssignedIdentities/builder');

/** Everything at the subscription but `denied`; `granted` given back at their own scopes (another role, as ARM allows). */
function narrow(denied: string[], granted: Array<{ scope: string; actions: string[] }> = []): void {
  t.emulator.permissions.set([{ scope: sub, actions: ['*'], notActions: denied }, ...granted.map((g) => ({ ...g, notActions: [] }))]);
}

/** The SDK's error for a linked refusal: 403, its code, and the message naming the linked action and scope. */
async function linkedRefusal(call: Promise<unknown>, action: string, scope: string, own: string): Promise<void> {
  const refused = await failure(call);
  expect(refused).toMatchObject({ statusCode: 403, code: 'LinkedAuthorizationFailed' });
  expect(refused.message).toContain(`has permission to perform action '${own}'`);
  expect(refused.message).toContain(`does not have permission to perform action(s) '${action}' on the linked scope(s) '${scope}' (respectively)`);
}

const putById = (id: string, body: Record<string, unknown>) => t.resources.resources.beginCreateOrUpdateByIdAndWait(id, NETWORK_API, body, FAST_POLL);

beforeAll(async () => {
  t = await startTestEmulator({ seedFile: SEED });
  sub = `/subscriptions/${t.emulator.subscriptionId}`;
  await t.resources.resourceGroups.createOrUpdate('linked', { location: 'eastus' });
  await putById(net('networkSecurityGroups/nsg'), { location: 'eastus', properties: { securityRules: [] } });
  await putById(net('virtualNetworks/vnet'), { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.1.0.0/16'] }, subnets: [{ name: 'build', properties: { addressPrefix: '10.1.1.0/24' } }] } });
});
afterEach(() => {
  t.emulator.permissions.set([{ scope: sub, actions: ['*'] }]);
});
afterAll(async () => {
  await t?.close();
});

describe('linked access checks', () => {
  const NSG_JOIN = 'Microsoft.Network/networkSecurityGroups/join/action';
  const SUBNET_JOIN = 'Microsoft.Network/virtualNetworks/subnets/join/action';

  it('a subnet, or a VNet with inline subnets, naming an NSG needs the NSG\'s join action', async () => {
    const nsg = net('networkSecurityGroups/nsg');
    const subnet = { addressPrefix: '10.1.2.0/24', networkSecurityGroup: { id: nsg } };
    narrow([NSG_JOIN]);
    await linkedRefusal(putById(net('virtualNetworks/vnet/subnets/guarded'), { properties: subnet }), NSG_JOIN, nsg, 'Microsoft.Network/virtualNetworks/subnets/write');
    await linkedRefusal(putById(net('virtualNetworks/other'), { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.2.0.0/16'] }, subnets: [{ name: 'a', properties: { ...subnet, addressPrefix: '10.2.1.0/24' } }] } }),
      NSG_JOIN, nsg, 'Microsoft.Network/virtualNetworks/write');
    // Nothing was made by the refused writes.
    expect((await t.resources.resources.checkExistenceById(net('virtualNetworks/other'), NETWORK_API)).body).toBe(false);

    narrow([NSG_JOIN], [{ scope: nsg, actions: [NSG_JOIN] }]);
    const made = await putById(net('virtualNetworks/vnet/subnets/guarded'), { properties: subnet });
    expect(made.properties).toMatchObject({ networkSecurityGroup: { id: nsg } });
  });

  it('a NIC needs its subnet\'s and its NSG\'s join actions; the linked check comes before the provider looks for them', async () => {
    const subnet = net('virtualNetworks/vnet/subnets/build');
    const nsg = net('networkSecurityGroups/nsg');
    const nic = { location: 'eastus', properties: { ipConfigurations: [{ name: 'ip', properties: { subnet: { id: subnet } } }], networkSecurityGroup: { id: nsg } } };
    narrow([SUBNET_JOIN, NSG_JOIN]);
    const refused = await failure(putById(net('networkInterfaces/nic'), nic));
    expect(refused).toMatchObject({ statusCode: 403, code: 'LinkedAuthorizationFailed' });
    expect(refused.message).toContain(`action(s) '${SUBNET_JOIN},${NSG_JOIN}' on the linked scope(s) '${subnet},${nsg}' (respectively)`);
    // A subnet that does not exist is refused as unjoinable first (Network's InvalidResourceReference comes later).
    const missing = net('virtualNetworks/vnet/subnets/none-such');
    await linkedRefusal(putById(net('networkInterfaces/nic'), { ...nic, properties: { ipConfigurations: [{ name: 'ip', properties: { subnet: { id: missing } } }] } }), SUBNET_JOIN, missing, 'Microsoft.Network/networkInterfaces/write');

    // Its own write refused is AuthorizationFailed, whatever it links.
    narrow([SUBNET_JOIN, 'Microsoft.Network/networkInterfaces/write']);
    expect(await failure(putById(net('networkInterfaces/nic'), nic))).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });

    // Join granted on the VNet (it holds for its subnets) and on the NSG.
    narrow([SUBNET_JOIN, NSG_JOIN], [{ scope: net('virtualNetworks/vnet'), actions: [SUBNET_JOIN] }, { scope: nsg, actions: [NSG_JOIN] }]);
    expect((await putById(net('networkInterfaces/nic'), nic)).properties).toMatchObject({ provisioningState: 'Succeeded' });
  });

  it('a VM needs join on a NIC it names, on its inline NIC\'s subnet, assign on its identities and read on its gallery image', async () => {
    const NIC_JOIN = 'Microsoft.Network/networkInterfaces/join/action';
    const ASSIGN = 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action';
    const READ_VERSION = 'Microsoft.Compute/galleries/images/versions/read';
    const WRITE = 'Microsoft.Compute/virtualMachines/write';
    const subnet = net('virtualNetworks/vnet/subnets/build');
    const nic = net('networkInterfaces/vm-nic');
    await putById(nic, { location: 'eastus', properties: { ipConfigurations: [{ name: 'ip', properties: { subnet: { id: subnet } } }] } });
    const byNic = { ...vmModel({ image: UBUNTU, name: 'bynic' }), networkProfile: { networkInterfaces: [{ id: nic, primary: true }] } };

    narrow([NIC_JOIN]);
    await linkedRefusal(t.compute.virtualMachines.beginCreateOrUpdateAndWait('linked', 'bynic', byNic, FAST_POLL), NIC_JOIN, nic, WRITE);
    narrow([SUBNET_JOIN]);
    await linkedRefusal(t.compute.virtualMachines.beginCreateOrUpdateAndWait('linked', 'inline', vmModel({ image: UBUNTU, subnetId: subnet, name: 'inline' }), FAST_POLL), SUBNET_JOIN, subnet, WRITE);
    const withIdentity = { ...vmModel({ image: { id: VERSION() }, subnetId: subnet, name: 'full' }), identity: { type: 'UserAssigned' as const, userAssignedIdentities: { [IDENTITY()]: {} } } };
    // Managed Identity Operator's grant is written with a wildcard segment; without it, the assign is refused.
    narrow(['Microsoft.ManagedIdentity/*']);
    await linkedRefusal(t.compute.virtualMachines.beginCreateOrUpdateAndWait('linked', 'full', withIdentity, FAST_POLL), ASSIGN, IDENTITY(), WRITE);
    narrow([READ_VERSION]);
    await linkedRefusal(t.compute.virtualMachines.beginCreateOrUpdateAndWait('linked', 'full', withIdentity, FAST_POLL), READ_VERSION, VERSION(), WRITE);
    await expect(t.compute.virtualMachines.get('linked', 'full')).rejects.toMatchObject({ statusCode: 404 });

    narrow(['Microsoft.ManagedIdentity/*', READ_VERSION, NIC_JOIN], [
      { scope: IDENTITY(), actions: ['Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action'] },
      { scope: t.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery'), actions: ['Microsoft.Compute/galleries/*'] },
      { scope: nic, actions: [NIC_JOIN] },
    ]);
    const full = await t.compute.virtualMachines.beginCreateOrUpdateAndWait('linked', 'full', withIdentity, FAST_POLL);
    expect(full).toMatchObject({ provisioningState: 'Succeeded', identity: { type: 'UserAssigned' } });
    expect((await t.compute.virtualMachines.beginCreateOrUpdateAndWait('linked', 'bynic', byNic, FAST_POLL)).provisioningState).toBe('Succeeded');
  });

  it('a scale set write needs join on the subnet, pool, probe and NSG it names and read on its image; a PATCH, on what it sends', async () => {
    const POOL_JOIN = 'Microsoft.Network/loadBalancers/backendAddressPools/join/action';
    const PROBE_JOIN = 'Microsoft.Network/loadBalancers/probes/join/action';
    const READ_VERSION = 'Microsoft.Compute/galleries/images/versions/read';
    const WRITE = 'Microsoft.Compute/virtualMachineScaleSets/write';
    const subnet = net('virtualNetworks/vnet/subnets/build');
    const lb = net('loadBalancers/web-lb');
    const model = {
      location: 'eastus',
      sku: { name: 'Standard_D2s_v5', tier: 'Standard', capacity: 1 },
      upgradePolicy: { mode: 'Manual' as const },
      virtualMachineProfile: {
        osProfile: { computerNamePrefix: 'web', adminUsername: 'azureuser' },
        storageProfile: { imageReference: { id: VERSION() } },
        networkProfile: {
          healthProbe: { id: `${lb}/probes/http` },
          networkInterfaceConfigurations: [{
            name: 'nic', primary: true, networkSecurityGroup: { id: net('networkSecurityGroups/nsg') },
            ipConfigurations: [{ name: 'ip', subnet: { id: subnet }, loadBalancerBackendAddressPools: [{ id: `${lb}/backendAddressPools/web` }] }],
          }],
        },
      },
    };
    const put = () => t.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait('linked', 'web', model, FAST_POLL);
    for (const [action, scope] of [[SUBNET_JOIN, subnet], [POOL_JOIN, `${lb}/backendAddressPools/web`], [PROBE_JOIN, `${lb}/probes/http`], [NSG_JOIN, net('networkSecurityGroups/nsg')], [READ_VERSION, VERSION()]] as const) {
      narrow([action]);
      await linkedRefusal(put(), action, scope, WRITE);
    }
    // Kiln's network-join role on the VNet and the load balancer (infra/permissions.json's networkJoin).
    narrow(['Microsoft.Network/*/join/action'], [
      { scope: net('virtualNetworks/vnet'), actions: [SUBNET_JOIN] },
      { scope: lb, actions: [POOL_JOIN, PROBE_JOIN] },
      { scope: net('networkSecurityGroups/nsg'), actions: [NSG_JOIN] },
    ]);
    expect((await put()).provisioningState).toBe('Succeeded');

    // Kiln's rollout PATCH sends the image only: no network join is checked, the new image's read is.
    narrow(['Microsoft.Network/*/join/action', READ_VERSION]);
    const next = t.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web');
    const patch = { virtualMachineProfile: { storageProfile: { imageReference: { id: next } } } };
    await linkedRefusal(t.compute.virtualMachineScaleSets.beginUpdateAndWait('linked', 'web', patch, FAST_POLL), READ_VERSION, next, WRITE);
    narrow(['Microsoft.Network/*/join/action']);
    expect((await t.compute.virtualMachineScaleSets.beginUpdateAndWait('linked', 'web', patch, FAST_POLL)).virtualMachineProfile?.storageProfile?.imageReference?.id).toBe(next);
  });
});
