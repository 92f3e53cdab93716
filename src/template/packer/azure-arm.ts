/** Maps Packer's azure-arm builder/source onto an AIB imageTemplate: source, distributions, build VM, staging group, tags. */

import { CREDENTIAL_FIELDS } from './credentials.ts';
import { refuse, type ConversionNote, type PackerBlock } from './model.ts';

export interface MappedBuilder {
  location: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown>;
}

/** Builders Kiln knows and cannot run, each with the reason. */
const OTHER_BUILDERS: Record<string, string> = {
  'azure-chroot': 'it builds on the disk of the VM Packer runs on; Kiln builds on its own staging VM',
  'azure-dtl': 'DevTest Labs builds run inside a lab, which Kiln does not manage',
};

/** Fields that change nothing in the captured image or that Kiln does its own way: accepted, with why. */
const IGNORED_FIELDS: Record<string, string> = {
  os_type: 'Kiln reads the OS type from the source image',
  communicator: 'Kiln runs every step through Run Command, which needs no inbound access',
  temp_resource_group_name: 'Kiln names its own staging resource group',
  temp_compute_name: 'Kiln names its own build VM',
  temp_nic_name: 'Kiln names its own build VM', temp_os_disk_name: 'Kiln names its own build VM',
  temp_public_ip_name: 'the build VM has no public IP', temp_virtual_network_name: 'Kiln names its own staging network',
  temp_subnet_name: 'Kiln names its own staging network', temp_nsg_name: 'Kiln names its own staging network',
  private_virtual_network_with_public_ip: 'the build VM has no public IP', allowed_inbound_ip_addresses: 'the build VM takes no inbound connections',
  public_ip_sku: 'the build VM has no public IP', async_resourcegroup_delete: 'Kiln deletes its staging group itself, always',
  polling_duration_timeout: 'Kiln waits with its own per-step watchdogs', keep_os_disk: 'Kiln deletes the build VM and its disk after capture',
  skip_sysprep: 'Kiln generalizes as its own step', pause_before: 'Kiln runs steps back to back',
  managed_image_storage_account_type: 'Kiln uses the platform default for managed images',
  managed_image_zone_resilient: 'Kiln uses the platform default for managed images',
  managed_image_os_disk_snapshot_name: 'Kiln takes no separate snapshots', managed_image_data_disk_snapshot_prefix: 'Kiln takes no separate snapshots',
  shared_gallery_image_version_end_of_life_date: 'Kiln sets no end-of-life date on image versions',
  shared_image_gallery_timeout: 'Kiln waits with its own per-step watchdogs',
  license_type: 'Kiln does not set Azure Hybrid Benefit on the build VM; it does not change the image',
  boot_diag_storage_account: 'the build VM has no boot diagnostics storage',
  disk_caching_type: 'Kiln uses the platform default caching for the build VM',
  build_key_vault_name: 'Kiln keeps no certificates in a Key Vault for WinRM', build_key_vault_resource_group_name: 'Kiln keeps no certificates in a Key Vault for WinRM',
  build_key_vault_secret_name: 'Kiln keeps no certificates in a Key Vault for WinRM', build_key_vault_sku: 'Kiln keeps no certificates in a Key Vault for WinRM',
  skip_create_build_key_vault: 'Kiln keeps no certificates in a Key Vault for WinRM',
  winrm_expiry_time: 'Kiln runs every step through Run Command', spot: 'the build VM is a regular VM',
};

/** Kiln picks the build VM's security type itself (src/activities/security-type.ts), so a template cannot set it. */
const SECURITY_FROM_TARGETS = 'Kiln chooses the build VM\'s security type (Standard or Trusted Launch) from the source and the target image definitions';

/** Fields that would change the image and that Kiln cannot honour: refused, with why. */
const REFUSED_FIELDS: Record<string, string> = {
  image_url: 'a VHD source is not supported; use a managed image, gallery or marketplace source',
  custom_data: 'custom data runs at first boot of the build VM; put its commands in a provisioner',
  custom_data_file: 'custom data runs at first boot of the build VM; put its commands in a provisioner',
  user_data: 'user data runs at first boot of the build VM; put its commands in a provisioner',
  user_data_file: 'user data runs at first boot of the build VM; put its commands in a provisioner',
  disk_additional_size: 'Kiln captures the OS disk only',
  secure_boot_enabled: SECURITY_FROM_TARGETS, vtpm_enabled: SECURITY_FROM_TARGETS,
  security_type: SECURITY_FROM_TARGETS, security_encryption_type: 'Kiln builds no confidential VMs',
  encrypt_disk: 'Kiln builds no confidential VMs',
  community_gallery_image_id: 'community gallery sources are not supported; use a gallery in your subscription',
  direct_shared_gallery_image_id: 'direct shared gallery sources are not supported; use a gallery in your subscription',
  os_disk_size: 'write os_disk_size_gb',
  dynamic: 'dynamic blocks are not expanded by Kiln; write the blocks out',
  disk_encryption_set_id: 'the build VM\'s disk is not encrypted with a customer-managed key by Kiln',
  custom_script: 'a Custom Script extension at VM creation is not used; put the script in a provisioner',
};

const MAPPED_FIELDS = new Set([
  'image_publisher', 'image_offer', 'image_sku', 'image_version', 'plan_info',
  'custom_managed_image_name', 'custom_managed_image_resource_group_name', 'shared_image_gallery',
  'managed_image_name', 'managed_image_resource_group_name', 'shared_image_gallery_destination',
  'shared_image_gallery_replica_count', 'shared_gallery_image_version_exclude_from_latest',
  'location', 'vm_size', 'os_disk_size_gb', 'virtual_network_name', 'virtual_network_subnet_name',
  'virtual_network_resource_group_name', 'build_resource_group_name', 'azure_tags', 'user_assigned_managed_identities',
  'subscription_id', 'name', 'storage_account', 'resource_group_name', 'capture_container_name', 'capture_name_prefix',
]);

/** Packer's own rule for a capture container (a storage container name). */
const CAPTURE_CONTAINER = /^[a-z0-9](?!.*--)[a-z0-9-]{2,62}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** HCL2 writes a nested block as a list of one object; JSON as the object. */
function nested(block: PackerBlock, key: string): Record<string, unknown> | undefined {
  const value = block.config[key];
  if (value === undefined) return undefined;
  const one = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (!isObject(one)) refuse('InvalidField', block.fieldAt(key), `${key} must be a block (an object), found ${Array.isArray(value) ? `${value.length} blocks` : typeof value}`);
  return one;
}

function text(block: PackerBlock, key: string, from: Record<string, unknown> = block.config): string | undefined {
  const value = from[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') refuse('InvalidField', block.fieldAt(key), `${key} must be a string, found ${typeof value}`);
  return String(value);
}

/** "East US", "eastus" and "East US 2" all name an Azure region the way ARM writes it. */
export function regionName(display: string): string {
  return display.replace(/\s+/g, '').toLowerCase();
}

function armId(subscription: string, group: string, provider: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${group}/providers/${provider}`;
}

function isSubscriptionId(value: string): boolean {
  return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value);
}

/** Maps the one azure-arm builder; notes say what each field became. `subscriptionId` fills ids Packer leaves implicit. */
export function mapAzureArm(blocks: PackerBlock[], given: { subscriptionId?: string; location?: string; now: Date }, notes: ConversionNote[]): MappedBuilder {
  const subscriptionId = given.subscriptionId;
  const others = blocks.filter((b) => b.type !== 'azure-arm');
  for (const other of others) {
    const reason = OTHER_BUILDERS[other.type] ?? 'Kiln builds Azure images, from the azure-arm builder only';
    refuse('UnsupportedBuilder', other.at, `builder "${other.type}" cannot be converted: ${reason}`);
  }
  if (blocks.length === 0) refuse('NoBuilder', '$', 'no azure-arm builder or source: Kiln converts templates that build with azure-arm');
  if (blocks.length > 1) refuse('SeveralBuilders', blocks[1]!.at, `${blocks.length} azure-arm builders (${blocks.map((b) => b.name ?? b.type).join(', ')}): Kiln bakes one image per template; split the template`);
  const b = blocks[0]!;
  const note = (kind: ConversionNote['kind'], field: string, message: string) => notes.push({ kind, at: b.fieldAt(field), what: field, message });

  const written = text(b, 'subscription_id');
  if (written !== undefined && !isSubscriptionId(written)) refuse('InvalidField', b.fieldAt('subscription_id'), `subscription_id must be a subscription id (a GUID), found ${JSON.stringify(written)}`);
  const subscription = written ?? subscriptionId ?? refuse('MissingSubscription', b.at, 'the template names no subscription_id: give --subscription, the subscription Kiln builds in');
  if (written) note('mapped', 'subscription_id', `ids Packer leaves implicit are in subscription ${subscription}`);
  else notes.push({ kind: 'mapped', at: b.at, what: 'resource groups', message: `ids Packer leaves implicit are in subscription ${subscription} (--subscription; the template has no subscription_id)` });

  // Credentials: named once, values never read.
  const credentials = Object.keys(b.config).filter((k) => CREDENTIAL_FIELDS.has(k));
  if (credentials.length > 0) {
    notes.push({ kind: 'dropped', at: b.fieldAt(credentials[0]!), what: credentials.join(', '), message: 'Packer credentials are not used, stored or shown: Kiln acts as its own managed identity' });
  }
  for (const key of Object.keys(b.config)) {
    if (CREDENTIAL_FIELDS.has(key) || MAPPED_FIELDS.has(key)) continue;
    if (REFUSED_FIELDS[key]) refuse('UnsupportedField', b.fieldAt(key), `azure-arm ${key}: ${REFUSED_FIELDS[key]}`);
    if (/^(ssh|winrm)_/.test(key)) { note('ignored', key, 'communicator setting: Kiln runs steps through Run Command, which needs no inbound access'); continue; }
    const reason = IGNORED_FIELDS[key];
    if (reason) { note('ignored', key, reason); continue; }
    refuse('UnknownField', b.fieldAt(key), `azure-arm field "${key}" is not one Kiln knows`);
  }

  // ---- location ----
  const locationText = text(b, 'location') ?? given.location;
  // Packer takes build_resource_group_name's region when location is absent; Kiln converts offline, so it must be said.
  if (!locationText) refuse('MissingField', b.at, 'azure-arm location is required by Kiln (the staging group and build VM are created there): write location, or give --location');
  const location = regionName(locationText);
  if (text(b, 'location')) note('mapped', 'location', `location ${location}`);
  else notes.push({ kind: 'mapped', at: b.at, what: 'location', message: `location ${location} (--location)` });

  // ---- source ----
  let source: Record<string, unknown>;
  const gallerySource = nested(b, 'shared_image_gallery');
  if (text(b, 'image_publisher') || text(b, 'image_offer') || text(b, 'image_sku')) {
    const [publisher, offer, sku] = ['image_publisher', 'image_offer', 'image_sku'].map((k) => text(b, k) ?? refuse('MissingField', b.at, `a marketplace source needs ${k}`));
    const plan = nested(b, 'plan_info');
    source = {
      type: 'PlatformImage', publisher, offer, sku, version: text(b, 'image_version') ?? 'latest',
      ...(plan ? { planInfo: { planName: text(b, 'plan_name', plan), planProduct: text(b, 'plan_product', plan), planPublisher: text(b, 'plan_publisher', plan) } } : {}),
    };
    if (plan && text(b, 'plan_promotion_code', plan)) note('ignored', 'plan_promotion_code', 'AIB plan info has no promotion code');
    note('mapped', 'image_publisher', `source PlatformImage ${publisher}/${offer}/${sku}@${String(source.version)}`);
  } else if (text(b, 'custom_managed_image_name')) {
    const group = text(b, 'custom_managed_image_resource_group_name') ?? refuse('MissingField', b.fieldAt('custom_managed_image_name'), 'custom_managed_image_name needs custom_managed_image_resource_group_name');
    source = { type: 'ManagedImage', imageId: armId(subscription, group, `Microsoft.Compute/images/${text(b, 'custom_managed_image_name')}`) };
    note('mapped', 'custom_managed_image_name', `source ManagedImage ${String(source.imageId)}`);
  } else if (gallerySource) {
    const id = text(b, 'id', gallerySource);
    const need = (k: string) => text(b, k, gallerySource) ?? refuse('MissingField', b.fieldAt('shared_image_gallery'), `shared_image_gallery needs ${k}`);
    const version = text(b, 'image_version', gallerySource);
    const definition = id ?? armId(text(b, 'subscription', gallerySource) ?? subscription, need('resource_group'), `Microsoft.Compute/galleries/${need('gallery_name')}/images/${need('image_name')}`);
    source = { type: 'SharedImageVersion', imageVersionId: !id && version && version !== 'latest' ? `${definition}/versions/${version}` : definition };
    note('mapped', 'shared_image_gallery', `source SharedImageVersion ${String(source.imageVersionId)}`);
  } else {
    return refuse('MissingField', b.at, 'azure-arm needs a source: image_publisher/image_offer/image_sku, custom_managed_image_name or shared_image_gallery');
  }

  // ---- outputs ----
  const distribute: Record<string, unknown>[] = [];
  const managedName = text(b, 'managed_image_name');
  if (managedName) {
    const group = text(b, 'managed_image_resource_group_name') ?? refuse('MissingField', b.fieldAt('managed_image_name'), 'managed_image_name needs managed_image_resource_group_name');
    distribute.push({ type: 'ManagedImage', imageId: armId(subscription, group, `Microsoft.Compute/images/${managedName}`), location, runOutputName: managedName });
    note('mapped', 'managed_image_name', `distribute ManagedImage ${group}/${managedName}`);
  }
  const destination = nested(b, 'shared_image_gallery_destination');
  if (destination) {
    const need = (k: string) => text(b, k, destination) ?? refuse('MissingField', b.fieldAt('shared_image_gallery_destination'), `shared_image_gallery_destination needs ${k}`);
    const image = need('image_name');
    const version = text(b, 'image_version', destination);
    const definition = armId(text(b, 'subscription', destination) ?? subscription, need('resource_group'), `Microsoft.Compute/galleries/${need('gallery_name')}/images/${image}`);
    const storage = text(b, 'storage_account_type', destination);
    const replicas = b.config.shared_image_gallery_replica_count;
    const regions = [location, ...((destination.replication_regions as unknown[] | undefined) ?? []).map((r) => regionName(String(r)))];
    const targets = [...new Set(regions)].map((name) => ({
      name, ...(typeof replicas === 'number' ? { replicaCount: replicas } : {}), ...(storage ? { storageAccountType: storage } : {}),
    }));
    const exclude = b.config.shared_gallery_image_version_exclude_from_latest ?? destination.exclude_from_latest;
    distribute.push({
      type: 'SharedImage', galleryImageId: version ? `${definition}/versions/${version}` : definition, runOutputName: image.replace(/[^A-Za-z0-9._-]/g, '-'),
      targetRegions: targets, ...(exclude === true || exclude === 'true' ? { excludeFromLatest: true } : {}),
    });
    note('mapped', 'shared_image_gallery_destination', `distribute SharedImage ${image}${version ? ` version ${version}` : ''} to ${targets.map((t) => t.name).join(', ')}`);
    if (destination.target_region !== undefined) note('ignored', 'target_region', 'write replication_regions; per-region target_region blocks are not read');
  }
  const vhd = vhdDistribution(b, given.now);
  if (vhd) {
    distribute.push(vhd.distribution);
    note('mapped', 'storage_account', vhd.message);
    note('ignored', 'resource_group_name', 'the storage account\'s resource group: Kiln reaches the account by its name');
  }
  if (distribute.length === 0) refuse('MissingField', b.at, 'azure-arm needs an output: managed_image_name + managed_image_resource_group_name, shared_image_gallery_destination, or storage_account + capture_container_name (VHD)');

  // ---- build VM ----
  const vmProfile: Record<string, unknown> = {};
  if (text(b, 'vm_size')) { vmProfile.vmSize = text(b, 'vm_size'); note('mapped', 'vm_size', `vmProfile.vmSize ${String(vmProfile.vmSize)}`); }
  if (b.config.os_disk_size_gb !== undefined) { vmProfile.osDiskSizeGB = Number(b.config.os_disk_size_gb); note('mapped', 'os_disk_size_gb', `vmProfile.osDiskSizeGB ${String(vmProfile.osDiskSizeGB)}`); }
  if (text(b, 'virtual_network_name')) {
    const group = text(b, 'virtual_network_resource_group_name') ?? refuse('MissingField', b.fieldAt('virtual_network_name'), 'virtual_network_name needs virtual_network_resource_group_name (Kiln does not search for the network)');
    const subnet = text(b, 'virtual_network_subnet_name') ?? refuse('MissingField', b.fieldAt('virtual_network_name'), 'virtual_network_name needs virtual_network_subnet_name');
    vmProfile.vnetConfig = { subnetId: armId(subscription, group, `Microsoft.Network/virtualNetworks/${text(b, 'virtual_network_name')}/subnets/${subnet}`) };
    note('mapped', 'virtual_network_name', `build VM in subnet ${subnet} of ${group}/${text(b, 'virtual_network_name')}`);
  }
  const identities = b.config.user_assigned_managed_identities;
  if (Array.isArray(identities) && identities.length > 0) {
    vmProfile.userAssignedIdentities = identities.map(String);
    note('mapped', 'user_assigned_managed_identities', `vmProfile.userAssignedIdentities (${identities.length})`);
  }

  const properties: Record<string, unknown> = { source, distribute, ...(Object.keys(vmProfile).length > 0 ? { vmProfile } : {}) };
  const buildGroup = text(b, 'build_resource_group_name');
  if (buildGroup) {
    properties.stagingResourceGroup = `/subscriptions/${subscription}/resourceGroups/${buildGroup}`;
    note('mapped', 'build_resource_group_name', `stagingResourceGroup ${buildGroup}`);
  }
  const tags = b.config.azure_tags;
  if (tags !== undefined) {
    if (!isObject(tags)) refuse('InvalidField', b.fieldAt('azure_tags'), 'azure_tags must be a map of strings');
    note('mapped', 'azure_tags', 'the template\'s tags (on the image)');
  }
  return { location, ...(isObject(tags) ? { tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])) } : {}), properties };
}

/** Compact UTC time to the millisecond, e.g. 20260304T050607000Z: a blob name part that sorts by time. */
function compactTime(now: Date): string {
  return now.toISOString().replace(/[-:.]/g, '');
}

/**
 * Packer's VHD output (plugin 2.x: the OS disk copied through disk access into
 * `{account blob endpoint}{capture_container_name}/{capture_name_prefix}{temp OS disk name}.vhd`) as a Kiln VHD
 * distribution at the same place. Packer's temp disk name is random; Kiln's is the conversion time.
 */
function vhdDistribution(b: PackerBlock, now: Date): { distribution: Record<string, unknown>; message: string } | undefined {
  const account = text(b, 'storage_account');
  const group = text(b, 'resource_group_name');
  const container = text(b, 'capture_container_name');
  const prefix = text(b, 'capture_name_prefix') ?? '';
  if (!account && !group && !container && !text(b, 'capture_name_prefix')) return undefined;
  if (!account) refuse('MissingField', b.fieldAt(group ? 'resource_group_name' : container ? 'capture_container_name' : 'capture_name_prefix'), 'a VHD output needs storage_account (with resource_group_name, its resource group)');
  if (!group) refuse('MissingField', b.fieldAt('storage_account'), 'storage_account and resource_group_name go together: resource_group_name is the storage account\'s resource group');
  if (!/^[a-z0-9]{3,24}$/.test(account)) refuse('InvalidField', b.fieldAt('storage_account'), `storage_account must be a storage account name (3-24 lowercase letters and digits), found ${JSON.stringify(account)}`);
  if (!container) refuse('MissingField', b.fieldAt('storage_account'), 'a VHD output needs capture_container_name, the container the VHD is copied into');
  if (!CAPTURE_CONTAINER.test(container) || container.endsWith('-')) refuse('InvalidField', b.fieldAt('capture_container_name'), `capture_container_name must match ^[a-z0-9][a-z0-9-]{2,62}$ without "--" or a trailing "-", found ${JSON.stringify(container)}`);
  const blob = `${prefix}pkros${compactTime(now)}.vhd`;
  const uri = `https://${account}.blob.core.windows.net/${container}/${encodeURI(blob)}`;
  return {
    distribution: { type: 'VHD', uri, runOutputName: `${prefix || 'packer'}-vhd`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) },
    message: `distribute VHD ${uri}: Packer's container and prefix; the conversion time (${compactTime(now)}) stands for Packer's random temp disk name, `
      + 'so the name is fixed for the bake (its retries write the same blob) and new for every bake. '
      + `Kiln writes as its managed identity into its own storage account (Azurite's devstoreaccount1 on the local default); into another account only through a SAS in the uri`,
  };
}
