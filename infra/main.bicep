// Kiln on Azure: a Flex Consumption Function App (Node 22) acting as one user-assigned identity that holds only
// the roles the bake pipeline needs. Deployed by `azd up` (azure.yaml) or `az deployment sub create`.
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('Environment name (azd sets it); names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer the Flex Consumption plan.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying principal. When set, it gets Storage Blob Data Owner and Key Vault Secrets Officer to upload templates and write secrets.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('What principalId is: azd sets AZURE_PRINCIPAL_TYPE (ServicePrincipal when azd runs in CI).')
param principalType string = 'User'

@allowed(['subscription', 'resourceGroup'])
@description('subscription: Kiln creates and deletes one staging resource group per bake. resourceGroup: Kiln builds inside the one group named by stagingResourceGroupName (templates set stagingResourceGroup to it).')
param stagingScope string = 'subscription'

@description('With stagingScope resourceGroup: the staging group, created here.')
param stagingResourceGroupName string = ''

@description('ARM ids of the scale sets that templates roll out to (rollout[].scaleSetId).')
param scaleSetIds array = []

@description('ARM ids of the VNets and load balancers the scale sets in scaleSetIds use; the join actions a model update needs are granted on their groups.')
param scaleSetNetworkIds array = []

@description('ARM ids of user-assigned identities that templates attach to build VMs (vmProfile.userAssignedIdentities).')
param buildVmIdentityIds array = []

@description('Name of the Compute Gallery that Kiln publishes to.')
param galleryName string = 'kilnGallery'

@description('Image definitions to create in the gallery: { name, osType: Linux|Windows }.')
param galleryImages array = [
  { name: 'ubuntu-web', osType: 'Linux' }
  { name: 'ubuntu-app', osType: 'Linux' }
  { name: 'windows-base', osType: 'Windows' }
]

@description('Durable task hub name (letters and digits, 3-45 characters).')
param taskHub string = 'kiln'

@minValue(1)
@description('Hours a staging resource group may live before the janitor deletes it.')
param stagingTtlHours int = 24

@minValue(1)
@description('Shortest interval between status checks of long Azure operations, in milliseconds.')
param pollMinMs int = 2000

@minValue(1)
@description('Longest interval between status checks of long Azure operations, in milliseconds.')
param pollMaxMs int = 30000

@minValue(40)
@maxValue(1000)
@description('Flex Consumption scale-out limit.')
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: { name: 'id-${resourceToken}', location: location, tags: tags }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: { name: 'st${resourceToken}', location: location, tags: tags }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: { resourceToken: resourceToken, location: location, tags: tags }
}

module vault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: { name: 'kv-${resourceToken}', location: location, tags: tags }
}

module gallery 'app/gallery.bicep' = {
  name: 'gallery'
  scope: rg
  params: { name: galleryName, location: location, tags: tags, images: galleryImages }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    taskHub: taskHub
    stagingTtlHours: stagingTtlHours
    pollMinMs: pollMinMs
    pollMaxMs: pollMaxMs
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

// Roles on the resources in Kiln's own group: storage, vault, telemetry, gallery.
module appRoles 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    storageName: storage.outputs.name
    vaultName: vault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    galleryName: gallery.outputs.name
  }
}

// ---- staging: where build VMs, disks and networks live ----

// infra/permissions.json is the one list of what Kiln does in Azure and which role grants it (checked by
// test/unit/deploy-permissions.test.ts against the calls in src/azure); built-in role ids and custom roles come from it.
var permissions = loadJsonContent('permissions.json')
var roles = {
  virtualMachineContributor: permissions.builtInRoles['Virtual Machine Contributor'].id
  networkContributor: permissions.builtInRoles['Network Contributor'].id
  managedIdentityOperator: permissions.builtInRoles['Managed Identity Operator'].id
}
// Custom role names must be unique in the tenant: the subscription and environment make them so.
var customRoleSuffix = '(${environmentName}, ${take(uniqueString(subscription().id, environmentName), 8)})'
var stagingRgName = empty(stagingResourceGroupName) ? 'rg-${environmentName}-staging' : stagingResourceGroupName
// In resourceGroup mode the group is created here and Kiln never creates or deletes groups.
var stagingRoleActions = stagingScope == 'subscription'
  ? permissions.customRoles.staging.actions
  : filter(permissions.customRoles.staging.actions, a => !startsWith(a, 'Microsoft.Resources/subscriptions/resourceGroups/'))

resource stagingRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kiln-staging', environmentName)
  properties: {
    roleName: '${permissions.customRoles.staging.name} ${customRoleSuffix}'
    description: permissions.customRoles.staging.description
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [{ actions: stagingRoleActions, notActions: [] }]
  }
}

resource subscriptionReadsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kiln-subscription-reads', environmentName)
  properties: {
    roleName: '${permissions.customRoles.subscriptionReads.name} ${customRoleSuffix}'
    description: permissions.customRoles.subscriptionReads.description
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [{ actions: permissions.customRoles.subscriptionReads.actions, notActions: [] }]
  }
}

resource networkJoinRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(scaleSetNetworkIds)) {
  name: guid(subscription().id, 'kiln-network-join', environmentName)
  properties: {
    roleName: '${permissions.customRoles.networkJoin.name} ${customRoleSuffix}'
    description: permissions.customRoles.networkJoin.description
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [{ actions: permissions.customRoles.networkJoin.actions, notActions: [] }]
  }
}

resource fleetReadRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(scaleSetIds)) {
  name: guid(subscription().id, 'kiln-fleet-read', environmentName)
  properties: {
    roleName: '${permissions.customRoles.fleetRead.name} ${customRoleSuffix}'
    description: permissions.customRoles.fleetRead.description
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [{ actions: permissions.customRoles.fleetRead.actions, notActions: [] }]
  }
}

// Marketplace versions and the janitor's group listing are subscription-level reads in both staging modes.
resource subscriptionReadsAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, 'kiln-subscription-reads', environmentName, 'assignment')
  properties: {
    roleDefinitionId: subscriptionReadsRole.id
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

// Staging groups do not exist yet when this deploys, so in subscription mode the staging roles sit at the subscription.
resource subscriptionStagingRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleDefinitionId in [
  subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.virtualMachineContributor)
  subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.networkContributor)
  stagingRole.id
]: if (stagingScope == 'subscription') {
  name: guid(subscription().id, environmentName, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource stagingRg 'Microsoft.Resources/resourceGroups@2024-03-01' = if (stagingScope == 'resourceGroup') {
  name: stagingRgName
  location: location
  tags: tags
}

module groupStagingRoles 'app/group-roles.bicep' = if (stagingScope == 'resourceGroup') {
  name: 'staging-roles'
  scope: resourceGroup(stagingRgName)
  dependsOn: [stagingRg]
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.virtualMachineContributor)
      subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.networkContributor)
      stagingRole.id
    ]
  }
}

// A scale-set model update is checked against the subnets and load balancers it joins, which usually live in
// another group than the scale set: the join actions are granted on each network's group.
module scaleSetNetworkRoles 'app/group-roles.bicep' = [for (id, i) in scaleSetNetworkIds: {
  name: 'scaleset-network-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: { principalId: identity.outputs.principalId, roleDefinitionIds: [networkJoinRole.id] }
}]

// ---- rollout targets and build VM identities ----

// A Flexible scale set's members are VMs in the scale set's group, outside the scale set's own scope.
module scaleSetGroupRoles 'app/group-roles.bicep' = [for (id, i) in scaleSetIds: {
  name: 'scaleset-group-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: { principalId: identity.outputs.principalId, roleDefinitionIds: [fleetReadRole.id] }
}]

module scaleSetRoles 'app/scaleset-role.bicep' = [for (id, i) in scaleSetIds: {
  name: 'scaleset-role-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: { scaleSetName: last(split(id, '/')), principalId: identity.outputs.principalId, roleId: roles.virtualMachineContributor }
}]

module identityOperatorRoles 'app/identity-operator-role.bicep' = [for (id, i) in buildVmIdentityIds: {
  name: 'identity-operator-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: { identityName: last(split(id, '/')), principalId: identity.outputs.principalId, roleId: roles.managedIdentityOperator }
}]

// azd writes these into the environment; infra/hooks/postdeploy.sh reads them.
output AZURE_LOCATION string = location
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TEMPLATES_EVENT_GRID_TOPIC string = storage.outputs.systemTopicName
output KILN_KEYVAULT_NAME string = vault.outputs.name
output KILN_GALLERY_ID string = gallery.outputs.id
output KILN_STAGING_RESOURCE_GROUP string = stagingScope == 'resourceGroup' ? '${subscription().id}/resourceGroups/${stagingRgName}' : ''
