// Log Analytics and Application Insights with local auth off: the app sends telemetry as its identity.
param resourceToken string
param location string
param tags object

resource law 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${resourceToken}'
  location: location
  tags: tags
  properties: { retentionInDays: 30, sku: { name: 'PerGB2018' } }
}

resource appi 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: law.id, DisableLocalAuth: true }
}

output appInsightsName string = appi.name
output connectionString string = appi.properties.ConnectionString
