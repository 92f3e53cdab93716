/** Generated from infra/permissions.json by `npm run docs:permissions` (deploy-permissions.test.ts checks it): every ARM action Kiln performs, by call and scope. */

import type { RequiredActions } from './permissions.ts';

export const REQUIRED_ACTIONS: RequiredActions = {
  "operations": {
    "resources.resourceGroups.createOrUpdate": {
      "actions": [
        "Microsoft.Resources/subscriptions/resourceGroups/write"
      ],
      "scope": "staging",
      "why": "create and tag the per-bake staging group"
    },
    "resources.resourceGroups.get": {
      "actions": [
        "Microsoft.Resources/subscriptions/resourceGroups/read"
      ],
      "scope": "staging",
      "why": "read a staging group's state and tags"
    },
    "resources.resourceGroups.checkExistence": {
      "actions": [
        "Microsoft.Resources/subscriptions/resourceGroups/read"
      ],
      "scope": "staging",
      "why": "verify a staging group is gone after cleanup"
    },
    "resources.resourceGroups.list": {
      "actions": [
        "Microsoft.Resources/subscriptions/resourceGroups/read"
      ],
      "scope": "subscription",
      "why": "the janitor finds expired staging groups by tag"
    },
    "resources.resources.listByResourceGroup": {
      "actions": [
        "Microsoft.Resources/subscriptions/resourceGroups/resources/read"
      ],
      "scope": "staging",
      "why": "check that a stagingResourceGroup the template names is empty, as AIB requires"
    },
    "resources.resourceGroups.delete": {
      "actions": [
        "Microsoft.Resources/subscriptions/resourceGroups/delete"
      ],
      "scope": "staging",
      "why": "delete the staging group after the bake"
    },
    "resources.resources.getById": {
      "actions": [
        "Microsoft.Network/virtualNetworks/read",
        "Microsoft.Network/networkSecurityGroups/read"
      ],
      "scope": "staging",
      "why": "read the staging VNet and NSG"
    },
    "resources.resources.createOrUpdateById": {
      "actions": [
        "Microsoft.Network/virtualNetworks/write",
        "Microsoft.Network/virtualNetworks/subnets/write",
        "Microsoft.Network/networkSecurityGroups/write",
        "Microsoft.Network/networkSecurityGroups/join/action",
        "Microsoft.Network/virtualNetworks/subnets/join/action"
      ],
      "scope": "staging",
      "why": "create the staging VNet, subnet and NSG (no inbound rules)"
    },
    "compute.virtualMachines.createOrUpdate": {
      "actions": [
        "Microsoft.Compute/virtualMachines/write",
        "Microsoft.Compute/disks/write",
        "Microsoft.Network/networkInterfaces/write",
        "Microsoft.Network/networkInterfaces/join/action",
        "Microsoft.Network/virtualNetworks/subnets/join/action"
      ],
      "scope": "staging",
      "why": "create the build VM with its OS disk and NIC"
    },
    "compute.virtualMachines.get": {
      "actions": [
        "Microsoft.Compute/virtualMachines/read"
      ],
      "scope": "staging",
      "why": "read the VM's power state and instance view"
    },
    "compute.virtualMachines.deallocate": {
      "actions": [
        "Microsoft.Compute/virtualMachines/deallocate/action"
      ],
      "scope": "staging",
      "why": "deallocate before generalize"
    },
    "compute.virtualMachines.generalize": {
      "actions": [
        "Microsoft.Compute/virtualMachines/generalize/action"
      ],
      "scope": "staging",
      "why": "mark the VM generalized before capture"
    },
    "compute.virtualMachines.delete": {
      "actions": [
        "Microsoft.Compute/virtualMachines/delete"
      ],
      "scope": "staging",
      "why": "remove the build VM"
    },
    "compute.virtualMachineRunCommands.createOrUpdate": {
      "actions": [
        "Microsoft.Compute/virtualMachines/runCommands/write"
      ],
      "scope": "staging",
      "why": "run each customizer and validator"
    },
    "compute.virtualMachineRunCommands.getByVirtualMachine": {
      "actions": [
        "Microsoft.Compute/virtualMachines/runCommands/read"
      ],
      "scope": "staging",
      "why": "poll a script's state, exit code and output"
    },
    "compute.virtualMachineRunCommands.delete": {
      "actions": [
        "Microsoft.Compute/virtualMachines/runCommands/delete"
      ],
      "scope": "staging",
      "why": "prune finished Run Commands"
    },
    "compute.disks.grantAccess": {
      "actions": [
        "Microsoft.Compute/disks/beginGetAccess/action"
      ],
      "scope": "staging",
      "why": "VHD distribution: a read SAS on the OS disk"
    },
    "compute.disks.revokeAccess": {
      "actions": [
        "Microsoft.Compute/disks/endGetAccess/action"
      ],
      "scope": "staging",
      "why": "VHD distribution: revoke that SAS after the copy"
    },
    "compute.images.createOrUpdate": {
      "actions": [
        "Microsoft.Compute/images/write",
        "Microsoft.Compute/virtualMachines/read"
      ],
      "scope": "managedImageGroup",
      "why": "ManagedImage distribution"
    },
    "compute.images.get": {
      "actions": [
        "Microsoft.Compute/images/read"
      ],
      "scope": "managedImageGroup",
      "why": "ManagedImage distribution: state, and as a source"
    },
    "compute.images.delete": {
      "actions": [
        "Microsoft.Compute/images/delete"
      ],
      "scope": "managedImageGroup",
      "why": "remove a half-made managed image"
    },
    "compute.galleryImages.get": {
      "actions": [
        "Microsoft.Compute/galleries/images/read"
      ],
      "scope": "gallery",
      "why": "read the image definition (OS type, generation)"
    },
    "compute.galleryImageVersions.createOrUpdate": {
      "actions": [
        "Microsoft.Compute/galleries/images/versions/write"
      ],
      "scope": "gallery",
      "why": "capture, replicate and promote the version"
    },
    "compute.galleryImageVersions.get": {
      "actions": [
        "Microsoft.Compute/galleries/images/versions/read"
      ],
      "scope": "gallery",
      "why": "replication status per region"
    },
    "compute.galleryImageVersions.listByGalleryImage": {
      "actions": [
        "Microsoft.Compute/galleries/images/versions/read"
      ],
      "scope": "gallery",
      "why": "pick the next version number"
    },
    "compute.galleryImageVersions.delete": {
      "actions": [
        "Microsoft.Compute/galleries/images/versions/delete"
      ],
      "scope": "gallery",
      "why": "remove a half-made version"
    },
    "compute.virtualMachineImages.list": {
      "actions": [
        "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read"
      ],
      "scope": "subscription",
      "why": "resolve a marketplace `latest` and see new source versions"
    },
    "compute.virtualMachineScaleSets.get": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/read"
      ],
      "scope": "scaleSet",
      "why": "read the model (the rollback target)"
    },
    "compute.virtualMachineScaleSets.update": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/write"
      ],
      "scope": "scaleSet",
      "why": "point the model at the new version"
    },
    "compute.virtualMachineScaleSets.updateInstances": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/manualUpgrade/action"
      ],
      "scope": "scaleSet",
      "why": "upgrade instances batch by batch"
    },
    "compute.virtualMachineScaleSetVMs.list": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read"
      ],
      "scope": "scaleSet",
      "why": "instances, their model state and health"
    },
    "compute.virtualMachineScaleSetRollingUpgrades.startOSUpgrade": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/osRollingUpgrade/action"
      ],
      "scope": "scaleSet",
      "why": "start Azure's rolling upgrade (Rolling policy) when the model change did not"
    },
    "compute.virtualMachineScaleSetRollingUpgrades.getLatest": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades/read"
      ],
      "scope": "scaleSet",
      "why": "follow Azure's rolling upgrade and its batches"
    },
    "compute.virtualMachineScaleSetRollingUpgrades.cancel": {
      "actions": [
        "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades/cancel/action"
      ],
      "scope": "scaleSet",
      "why": "stop Azure's rolling upgrade on Kiln's cancel or before a rollback"
    },
    "compute.virtualMachines.list": {
      "actions": [
        "Microsoft.Compute/virtualMachines/read"
      ],
      "scope": "scaleSetGroup",
      "why": "a Flexible scale set's members are VMs in its group (listed by virtualMachineScaleSet id)"
    },
    "compute.virtualMachineImages.get": {
      "actions": [
        "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read"
      ],
      "scope": "subscription",
      "why": "preflight: the source's marketplace version exists in the build region, with its OS type and generation"
    },
    "compute.resourceSkus.list": {
      "actions": [
        "Microsoft.Compute/skus/read"
      ],
      "scope": "subscription",
      "why": "preflight: the vmSize is offered in the build region and not restricted"
    },
    "compute.usage.list": {
      "actions": [
        "Microsoft.Compute/locations/usages/read"
      ],
      "scope": "subscription",
      "why": "preflight: the regional vCPU quota has room for the build VM"
    },
    "resources.providers.get": {
      "actions": [
        "Microsoft.Resources/subscriptions/providers/read"
      ],
      "scope": "subscription",
      "why": "preflight: the build and target regions exist"
    },
    "authorization.permissions.list": {
      "actions": [
        "Microsoft.Authorization/permissions/read"
      ],
      "scope": "subscription",
      "why": "preflight: the actions Kiln's identity holds at each scope a bake touches (where a role there grants Microsoft.Authorization/*/read; elsewhere the check is reported skipped)"
    }
  },
  "linkedActions": [
    {
      "actions": [
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
        "Microsoft.Network/loadBalancers/probes/join/action",
        "Microsoft.Network/networkSecurityGroups/join/action"
      ],
      "scope": "scaleSetNetwork",
      "why": "a scale-set model update is checked against the networks it joins (linked access check)"
    },
    {
      "actions": [
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"
      ],
      "scope": "buildIdentity",
      "why": "attach vmProfile.userAssignedIdentities to the build VM"
    },
    {
      "actions": [
        "Microsoft.Network/virtualNetworks/subnets/join/action"
      ],
      "scope": "buildSubnet",
      "why": "a build VM in a template's own subnet"
    },
    {
      "actions": [
        "Microsoft.Compute/galleries/images/versions/read"
      ],
      "scope": "sourceGallery",
      "why": "a build VM from another gallery's version"
    }
  ]
};
