// The Function App on the Flex Consumption plan (Linux, Node 22), running as the user-assigned identity.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageName string
param deploymentContainerName string
param appInsightsConnectionString string
param taskHub string
param stagingTtlHours int
param pollMinMs int
param pollMaxMs int
param maximumInstanceCount int
param instanceMemoryMB int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageName
}

// Every app setting, in one object: test/unit/settings.test.ts checks these keys against src/config.ts SETTINGS.
// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and the
// content-share settings, so none appear here.
var appSettings = {
  // Identity-based host storage (no keys); queue and table are for the Durable task hub.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  // Telemetry with Entra ID auth (local auth is off on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Kiln's own settings (src/config.ts).
  AZURE_CLIENT_ID: identityClientId
  KILN_SUBSCRIPTION_ID: subscription().subscriptionId
  KILN_ARM_ENDPOINT: environment().resourceManager
  KILN_TASK_HUB: taskHub
  KILN_STAGING_TTL_HOURS: string(stagingTtlHours)
  KILN_POLL_MIN_MS: string(pollMinMs)
  KILN_POLL_MAX_MS: string(pollMaxMs)
  KILN_INSTANCE_RETENTION_HOURS: '168'
  KILN_QUOTA_WAIT_MINUTES: '60'
  // Webhooks reach public endpoints only; link-local and metadata addresses are refused in any case.
  KILN_ALLOW_PRIVATE_TARGETS: 'false'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd deploys the service `api` of azure.yaml to the app with this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // Durable on Azure Storage: one always-ready instance keeps orchestrations moving (Learn, Flex Consumption).
        alwaysReady: [{ name: 'durable', instanceCount: 1 }]
      }
      runtime: { name: 'node', version: '22' }
    }
  }
  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

output name string = functionApp.name
output url string = 'https://${functionApp.properties.defaultHostName}'
