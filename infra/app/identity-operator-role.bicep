// Lets the app identity attach one user-assigned identity to build VMs (template vmProfile.userAssignedIdentities).
param identityName string
param principalId string
param roleId string

resource buildIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = { name: identityName }

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(buildIdentity.id, principalId, roleId)
  scope: buildIdentity
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
