// Lets the app identity update one rollout target: image reference, instance upgrades, instance health.
param scaleSetName string
param principalId string
param roleId string

resource vmss 'Microsoft.Compute/virtualMachineScaleSets@2024-07-01' existing = { name: scaleSetName }

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vmss.id, principalId, roleId)
  scope: vmss
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
