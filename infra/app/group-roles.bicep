// Roles for the app identity on one resource group (the fixed staging group, a rollout target's network group).
param principalId string
@description('Full role definition ids (built-in via subscriptionResourceId, or a custom role\'s id).')
param roleDefinitionIds array

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleDefinitionId in roleDefinitionIds: {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
