// Host storage with no keys: Functions host, Durable task hub, the deployment package, and the templates and runs
// containers. The Event Grid system topic delivers blob-created events for the templates trigger (Flex needs it).
param name string
param location string
param tags object

var deploymentContainerName = 'app-package'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Event Grid and build VMs (Run Command output blobs) reach the account from Azure services.
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
  resource blobServices 'blobServices' = {
    name: 'default'
    resource deployment 'containers' = { name: deploymentContainerName }
    resource templates 'containers' = { name: 'templates' }
    resource runs 'containers' = { name: 'runs' }
    // Run Command writes full script output here (read back, masked, then deleted) and the timers keep their state.
    resource runCommandOutput 'containers' = { name: 'run-command-output' }
    resource schedules 'containers' = { name: 'schedules' }
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-${name}'
  location: location
  tags: tags
  properties: { source: storage.id, topicType: 'Microsoft.Storage.StorageAccounts' }
}

output name string = storage.name
output deploymentContainerName string = deploymentContainerName
output systemTopicName string = topic.name
