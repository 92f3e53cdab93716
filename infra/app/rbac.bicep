// Roles on the resources in Kiln's own group, for the app identity and (optionally) the deploying user.
param principalId string
@description('Deploying principal; empty for none.')
param deployerPrincipalId string
@description('User, or ServicePrincipal when azd runs in CI (AZURE_PRINCIPAL_TYPE).')
param deployerPrincipalType string
param storageName string
param vaultName string
param appInsightsName string
param galleryName string

// Roles for ARM actions come from infra/permissions.json (the list checked against src/azure); data-plane roles here.
var permissions = loadJsonContent('../permissions.json')
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  computeGalleryArtifactsPublisher: permissions.builtInRoles['Compute Gallery Artifacts Publisher'].id
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: storageName }
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = { name: vaultName }
resource appi 'Microsoft.Insights/components@2020-02-02' existing = { name: appInsightsName }
resource gallery 'Microsoft.Compute/galleries@2023-07-03' existing = { name: galleryName }

// Host storage, task hub queues and tables, templates/runs blobs, the deployment package, user-delegation SAS.
resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]: {
  name: guid(storage.id, principalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// Resolve template secrets at run time.
resource vaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry is accepted only from identities with this role (local auth is off).
resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appi.id, principalId, roles.monitoringMetricsPublisher)
  scope: appi
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Create image versions (and read them for rollouts) in the gallery.
resource galleryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(gallery.id, principalId, roles.computeGalleryArtifactsPublisher)
  scope: gallery
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.computeGalleryArtifactsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The deploying principal uploads templates and writes secrets.
resource deployerStorageRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage.id, deployerPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
