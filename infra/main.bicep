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

@description('Object id of the deploying user. When set, it gets Storage Blob Data Owner and Key Vault Secrets Officer to upload templates and write secrets.')
param principalId string = ''

@allowed(['subscription', 'resourceGroup'])
@description('subscription: Kiln creates and deletes one staging resource group per bake. resourceGroup: Kiln builds inside the one group named by stagingResourceGroupName (templates set stagingResourceGroup to it).')
param stagingScope string = 'subscription'

@description('With stagingScope resourceGroup: the staging group, created here.')
param stagingResourceGroupName string = ''

@description('ARM ids of the scale sets that templates roll out to (rollout[].scaleSetId).')
param scaleSetIds array = []

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
    storageName: storage.outputs.name
    vaultName: vault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    galleryName: gallery.outputs.name
  }
}

// ---- staging: where build VMs, disks and networks live ----

var roles = {
  virtualMachineContributor: '9980e02c-c2be-4d73-94e8-173b1dc7cf3c'
  networkContributor: '4d97b98b-1d4f-4787-a291-c67834d212e7'
  managedIdentityOperator: 'f1a07417-d97a-45cb-824c-7a7467783830'
}

// Creating and deleting a group per bake needs resource-group write/delete at the subscription. No built-in role
// short of Contributor grants it, so a custom role grants just that.
resource stagingGroupsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (stagingScope == 'subscription') {
  name: guid(subscription().id, 'kiln-staging-groups', environmentName)
  properties: {
    roleName: 'Kiln staging groups (${environmentName})'
    description: 'Create, tag, read and delete the per-bake staging resource groups.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Resources/subscriptions/resourceGroups/write'
          'Microsoft.Resources/subscriptions/resourceGroups/delete'
        ]
        notActions: []
      }
    ]
  }
}

resource stagingGroupsAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (stagingScope == 'subscription') {
  name: guid(subscription().id, 'kiln-staging-groups', environmentName, 'assignment')
  properties: {
    roleDefinitionId: stagingGroupsRole.id
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

// Staging groups do not exist yet when this deploys, so VM and network rights sit at the subscription.
resource subscriptionStagingRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in [roles.virtualMachineContributor, roles.networkContributor]: if (stagingScope == 'subscription') {
  name: guid(subscription().id, environmentName, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

var stagingRgName = empty(stagingResourceGroupName) ? 'rg-${environmentName}-staging' : stagingResourceGroupName

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
    roleIds: [roles.virtualMachineContributor, roles.networkContributor]
  }
}

// ---- rollout targets and build VM identities ----

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
