// The user-assigned identity Kiln acts as: host storage, Key Vault, telemetry, ARM.
param name string
param location string
param tags object

resource uami 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = uami.id
output clientId string = uami.properties.clientId
output principalId string = uami.properties.principalId
