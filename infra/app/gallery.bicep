// The Compute Gallery Kiln publishes image versions to, with the image definitions the templates name.
param name string
param location string
param tags object
@description('Image definitions: { name, osType: Linux|Windows }.')
param images array

resource gallery 'Microsoft.Compute/galleries@2023-07-03' = {
  name: name
  location: location
  tags: tags
  properties: { description: 'Images baked by Kiln' }
}

resource definitions 'Microsoft.Compute/galleries/images@2023-07-03' = [for image in images: {
  parent: gallery
  name: image.name
  location: location
  tags: tags
  properties: {
    osType: image.osType
    osState: 'Generalized'
    hyperVGeneration: 'V2'
    identifier: { publisher: 'kiln', offer: image.name, sku: 'default' }
  }
}]

output name string = gallery.name
output id string = gallery.id
