/** The one factory for Azure-shaped ARM errors: every error the emulator sends is made here. */

export interface ArmErrorBody {
  error: { code: string; message: string; target: string | null; details: unknown[]; additionalInfo: unknown[] };
}

/** An error that the server turns into an ARM CloudError response with its status and headers. */
export class ArmError extends Error {
  override name = 'ArmError';
  readonly code: string;
  readonly status: number;
  readonly target: string | null;
  readonly headers: Record<string, string>;
  constructor(code: string, message: string, status: number, options: { target?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.target = options.target ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): ArmErrorBody {
    return { error: { code: this.code, message: this.message, target: this.target, details: [], additionalInfo: [] } };
  }
}

/** How a long-running operation failed, as its status shows it (the poll itself answers 200). */
export interface OperationFailure {
  code: string;
  message: string;
}

/** Not exported: every error is named in the table below, so its wording lives in one place. */
function armError(code: string, message: string, status: number, options?: { target?: string; headers?: Record<string, string> }): ArmError {
  return new ArmError(code, message, status, options);
}

/** The object id the emulator's one caller (its token) has in error messages. */
const LOCAL_CLIENT = '00000000-0000-0000-0000-00000000c0de';

/** Azure's wording for the common cases, so handlers do not each invent their own. */
export const errors = {
  // ---- the front door: authentication, routing, api-version, body ----
  authorizationMissing: () =>
    armError('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", 401, { headers: { 'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"' } }),
  invalidAuthenticationToken: () => armError('InvalidAuthenticationToken', 'The access token is invalid.', 401),
  missingApiVersion: () => armError('MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.', 400),
  /** Resource Manager says InvalidApiVersionParameter; a resource provider, NoRegisteredProviderFound. */
  unsupportedApiVersion: (apiVersion: string, operation: string, supported: string, byResourceManager: boolean) =>
    armError(byResourceManager ? 'InvalidApiVersionParameter' : 'NoRegisteredProviderFound', `The api-version '${apiVersion}' is invalid for '${operation}'. The supported versions are ${supported}.`, 400),
  requestEntityTooLarge: (maxBytes: number) => armError('RequestEntityTooLarge', `The request content is larger than ${maxBytes} bytes.`, 413),
  /** A body that is not JSON (`why` is the parser's reason) or not the JSON object the operation takes. */
  undeserializableContent: (why: string) => armError('InvalidRequestContent', `The request content was invalid and could not be deserialized: ${why}.`, 400),
  unsupportedOperation: (method: string, path: string) => armError('UnsupportedOperation', `The requested operation ${method} ${path} is not supported.`, 400),
  invalidResourceType: (path: string) => armError('InvalidResourceType', `The resource type or operation at '${path}' could not be found in the emulated ARM API.`, 404),
  noHttpResource: (path: string) => armError('NotFound', `No HTTP resource was found that matches the request URI '${path}'.`, 404),
  /** An injected fault: a throttle answers 429 (with Retry-After when set), an error 500. */
  injectedFault: (fault: { code: string; message: string; kind: string; retryAfterSeconds?: number }) =>
    armError(fault.code, fault.message, fault.kind === 'throttle' ? 429 : 500, { headers: fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {} }),
  internalServerError: (method: string | undefined, url: string | undefined, why: string) =>
    armError('InternalServerError', `The emulator failed while handling ${method} ${url}: ${why}`, 500),
  /** A Location (operation result) URL of an operation that failed or was canceled: its error, as 409. */
  operationFailed: (error: OperationFailure) => armError(error.code, error.message, 409),
  // ---- request validation ----
  locationRequired: () => armError('LocationRequired', 'The location property is required for this definition.', 400, { target: 'location' }),
  locationNotAvailableForResourceGroup: (location: string, regions: string[], target: string) =>
    armError('LocationNotAvailableForResourceGroup', `The provided location '${location}' is not available for resource group. List of available regions is '${regions.join(',')}'.`, 400, { target }),
  locationNotAvailableForResourceType: (location: string, resourceType: string, regions: string[], target: string) =>
    armError('LocationNotAvailableForResourceType', `The provided location '${location}' is not available for resource type '${resourceType}'. List of available regions for the resource type is '${regions.join(',')}'.`, 400, { target }),
  /** Resource Manager's code for a bad group name (InvalidResourceGroupName), a provider's for others. */
  invalidResourceName: (kind: string, name: string, rule: string) =>
    armError(kind === 'resourceGroup' ? 'InvalidResourceGroupName' : 'InvalidResourceName', `The ${kind} name '${name}' is invalid: expected ${rule}.`, 400, { target: 'name' }),
  invalidGalleryImageVersionName: (name: string, maxPart: number) =>
    armError('InvalidParameter', `The gallery image version name '${name}' is invalid: expected Major.Minor.Patch with each part an integer from 0 to ${maxPart}.`, 400, { target: 'galleryImageVersionName' }),
  // ---- VM sizes ----
  invalidVmSize: (name: string, validSizes: string[], target: string) =>
    armError('InvalidParameter', `The value '${name}' provided for the VM size is not valid. The valid sizes in the current region are: ${validSizes.join(', ')}.`, 400, { target }),
  skuNotAvailable: (size: string, location: string, target: string) =>
    armError('SkuNotAvailable', `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${size}' is currently not available in location '${location}'. Please try another size or deploy to a different location or different zone.`, 409, { target }),
  vmSizeGenerationMismatch: (size: string, generation: 'V1' | 'V2', target: string) =>
    armError('BadRequest', `The selected VM size '${size}' cannot boot Hypervisor Generation '${generation.slice(1)}'. If this was a Create operation please check that the Hypervisor Generation of the Image matches the Hypervisor Generation of the selected VM Size.`, 400, { target }),
  // ---- the emulator's own routes (files a VM downloads, /_emulator admin) ----
  fileNotServed: (relative: string) => armError('NotFound', `No file '${relative}' is served by the emulator.`, 404),
  adminQueryInvalid: (message: string) => armError('InvalidParameter', message, 400),
  noDiskFile: (path: string, resourceId: string) => armError('NotFound', `No file '${path}' on the disk of '${resourceId}'.`, 404),
  noDisk: (resourceId: string) => armError('NotFound', `'${resourceId}' is not a VM or scale-set instance with a disk.`, 404),
  noAdminRoute: (method: string | undefined, pathname: string) => armError('NotFound', `No emulator admin route ${method} ${pathname}.`, 404),
  /** ARM's own check: an existing resource cannot move to another region by a PUT (409 InvalidResourceLocation). */
  invalidResourceLocation: (name: string, group: string, existing: string, requested: string) =>
    armError('InvalidResourceLocation', `The resource '${name}' already exists in location '${existing}' in resource group '${group}'. A resource with the same name cannot be created in location '${requested}'. Please select a new resource name.`, 409),
  resourceGroupNotFound: (group: string) =>
    armError('ResourceGroupNotFound', `Resource group '${group}' could not be found.`, 404),
  resourceNotFound: (type: string, name: string, group: string) =>
    armError('ResourceNotFound', `The Resource '${type}/${name}' under resource group '${group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`, 404),
  notFound: (what: string) => armError('NotFound', `The entity was not found in this Azure location. (${what})`, 404),
  parentNotFound: (parentId: string) =>
    armError('ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${parentId}' not found.`, 404),
  invalidParameter: (target: string, message: string) => armError('InvalidParameter', message, 400, { target }),
  /** Compute's answer for a required property left out; `path` is both named and the target unless told. */
  requiredParameterMissing: (path: string, target = path) => armError('InvalidParameter', `Required parameter '${path}' is missing (null).`, 400, { target }),
  /** A property that is fixed once the resource exists; `current` is what it is, when worth saying. */
  propertyChangeNotAllowed: (property: string, current?: string) =>
    armError('PropertyChangeNotAllowed', `Changing property '${property}' is not allowed${current === undefined ? '' : ` (it is '${current}')`}.`, 409, { target: property }),
  parameterNotAllowed: (name: string) => armError('InvalidParameter', `Parameter '${name}' is not allowed.`, 400, { target: name }),
  windowsComputerName: (computerName: string) =>
    armError('InvalidParameter', `Windows computer name cannot be more than 15 characters long, be entirely numeric, or contain the following characters: \` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . ' " , < > / ? (found '${computerName}', ${computerName.length} characters).`, 400, { target: 'computerName' }),
  linuxHostNameTooLong: (computerName: string) =>
    armError('InvalidParameter', `Linux host name cannot exceed 64 characters in length (found ${computerName.length}).`, 400, { target: 'computerName' }),
  linuxAuthenticationMissing: () =>
    armError('InvalidParameter', 'Authentication using either SSH or by user name and password must be enabled in Linux profile.', 400, { target: 'linuxConfiguration' }),
  osDiskSmallerThanImage: (size: number, imageSizeGB: number) =>
    armError('InvalidParameter', `Disk size ${size}GB is smaller than the size of the corresponding disk in the VM image: ${imageSizeGB}GB. This is not allowed. Please choose equal or greater size or do not specify an explicit size.`, 400, { target: 'osDisk.diskSizeGB' }),
  /** Compute's quota refusal: `what` is the quota ('standardDSv5Family Cores', 'Total Regional Cores'). */
  coreQuotaExceeded: (q: { what: string; location: string; limit: number; used: number; required: number }) =>
    armError('OperationNotAllowed', `Operation could not be completed as it results in exceeding approved ${q.what} quota. Additional details - Deployment Model: Resource Manager, Location: ${q.location}, Current Limit: ${q.limit}, Current Usage: ${q.used}, Additional Required: ${q.required}, (Minimum) New Limit Required: ${q.used + q.required}.`, 409),
  /** A parent (gallery, image definition) that still holds children. */
  cannotDeleteNested: (name: string) => armError('CannotDeleteResource', `Can not delete resource '${name}' before nested resources are deleted.`, 409),
  galleryVersionSourceNotFound: (sourceId: string) =>
    armError('InvalidParameter', `The source '${sourceId}' of the gallery image version was not found.`, 404, { target: 'properties.storageProfile.source' }),
  /** Network's and Event Grid's word for a malformed request. */
  invalidRequest: (message: string) => armError('InvalidRequest', message, 400),
  invalidRequestContent: (message: string) => armError('InvalidRequestContent', message, 400),
  invalidFilter: (filter: string, expected: string) =>
    armError('InvalidFilter', `The $filter '${filter}' is not supported: expected ${expected}.`, 400, { target: '$filter' }),
  /** Resource Manager's code for a $filter it cannot read (no target, unlike Compute's). */
  invalidFilterInQueryString: (filter: string, expected: string) =>
    armError('InvalidFilterInQueryString', `The $filter '${filter}' is not supported: expected ${expected}.`, 400),
  invalidResourceNamespace: (namespace: string) => armError('InvalidResourceNamespace', `The resource namespace '${namespace}' is invalid.`, 404),
  operationNotFound: (id: string) => armError('NotFound', `The operation '${id}' was not found.`, 404),
  resourceGroupBeingDeleted: (group: string) =>
    armError('ResourceGroupBeingDeleted', `The resource group '${group}' is in deprovisioning state and cannot perform this operation.`, 409),
  invalidResourceGroupLocation: (location: string, existing: string) =>
    armError('InvalidResourceGroupLocation', `Invalid resource group location '${location}'. The Resource group already exists in location '${existing}'.`, 409),
  webhookValidationFailed: (url: string, why: string) =>
    armError('Url validation', `Webhook validation handshake failed for ${url}. Http POST request failed with response code ${why}. For troublehooting, visit https://aka.ms/esvalidation.`, 400),
  // ---- image sources ----
  sourceVirtualMachineNotFound: (vmId: string) =>
    armError('InvalidParameter', `The source virtual machine '${vmId}' was not found.`, 404, { target: 'sourceVirtualMachine' }),
  imageNotFoundInRegion: (id: string, location: string) => armError('NotFound', `The Image '${id}' cannot be found in '${location}' region.`, 404),
  galleryImageNotFound: (definitionId: string) => armError('GalleryImageNotFound', `The gallery image '${definitionId}' is not found.`, 404),
  imageVersionNotFound: (id: string) => armError('ImageVersionNotFound', `The gallery image version '${id}' is not found.`, 404),
  noLatestImageVersion: (definitionId: string) =>
    armError('ImageVersionNotFound', `The gallery image '${definitionId}' has no version that can be used as latest.`, 404),
  galleryImageVersionNotInRegion: (versionId: string, location: string, state: string) =>
    armError('GalleryImageVersionNotAvailableInRegion', `The gallery image version '${versionId}' is not available in region '${location}' (replication state: ${state}).`, 409),
  platformImageNotFound: (urn: string) =>
    armError('PlatformImageNotFound', `The platform image '${urn}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile`, 404, { target: 'imageReference' }),
  marketplacePlanMissing: () =>
    armError('VMMarketplaceInvalidInput', 'Creating a virtual machine from Marketplace image or a custom image sourced from a Marketplace image requires Plan information in the request.', 400, { target: 'plan' }),
  marketplacePlanMismatch: (expected: unknown, found: unknown) =>
    armError('VMMarketplaceInvalidInput', `The purchase information does not match. Unable to deploy from the Marketplace image: expected plan ${JSON.stringify(expected)}, found ${JSON.stringify(found)}.`, 400, { target: 'plan' }),
  /** Azure's answer for any marketplace path that names something the catalogue lacks. */
  vmImageArtifactNotFound: () => armError('NotFound', 'Artifact: VMImage was not found.', 404),
  // ---- network ----
  invalidAddressPrefixFormat: (prefix: string, resourceId: string, target: string) =>
    armError('InvalidAddressPrefixFormat', `Address prefix ${prefix} of resource ${resourceId} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.`, 400, { target }),
  addressPrefixTooLong: (prefix: string, resourceId: string, target: string) =>
    armError('InvalidAddressPrefixFormat', `Address prefix ${prefix} of resource ${resourceId} has a prefix length above 32.`, 400, { target }),
  invalidCidrNotation: (prefix: string, resourceId: string, expected: string, target: string) =>
    armError('InvalidCIDRNotation', `The address prefix ${prefix} in resource ${resourceId} has an invalid CIDR notation. For the given prefix length, the address prefix should be ${expected}.`, 400, { target }),
  subnetRangeOutsideVnet: (subnet: string, vnet: string) =>
    armError('NetcfgSubnetRangeOutsideVnet', `Subnet '${subnet}' is not valid because its IP address range is outside the IP address range of virtual network '${vnet}'.`, 400, { target: 'properties.addressPrefix' }),
  subnetRangesOverlap: (subnet: string, sibling: string, vnet: string) =>
    armError('NetcfgSubnetRangesOverlap', `Subnet '${subnet}' is not valid because its IP address range overlaps with that of an existing subnet '${sibling}' in virtual network '${vnet}'.`, 400, { target: 'properties.addressPrefix' }),
  securityRuleInvalidPriority: (rule: string, priority: unknown, target: string) =>
    armError('SecurityRuleInvalidPriority', `Security rule ${rule} has invalid Priority. Value provided: ${JSON.stringify(priority)} Allowed range 100-4096.`, 400, { target }),
  /** SecurityRuleInvalidDirection / SecurityRuleInvalidAccess: a value outside `allowed`. */
  securityRuleInvalidValue: (field: 'Direction' | 'Access', rule: string, value: unknown, allowed: string[], target: string) =>
    armError(`SecurityRuleInvalid${field}`, `Security rule ${rule} has invalid ${field}. Value provided: ${JSON.stringify(value)} Allowed values: ${allowed.join(', ')}.`, 400, { target }),
  securityRuleConflict: (rule: string, clash: string, nsgId: string, target: string) =>
    armError('SecurityRuleConflict', `Security rule ${rule} conflicts with rule ${clash}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules. (${nsgId})`, 400, { target }),
  // ---- NICs and managed disks as resources ----
  /** Network's refusal to delete (or reuse) a NIC that a VM holds. */
  nicInUse: (nicId: string, vmId: string) =>
    armError('NicInUse', `Network Interface ${nicId} is used by existing resource ${vmId}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`, 400),
  /** A subnet (or the VNet holding it) with NIC IP configurations in it. */
  subnetInUse: (subnetName: string, ipConfigurationId: string) =>
    armError('InUseSubnetCannotBeDeleted', `Subnet ${subnetName} is in use by ${ipConfigurationId} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`, 400),
  /** An NSG that subnets or NICs still name; `users` are their ids. */
  nsgInUse: (nsgId: string, users: string[]) =>
    armError('InUseNetworkSecurityGroupCannotBeDeleted', `Network security group ${nsgId} cannot be deleted because it is in use by the following resources: ${users.join(', ')}. In order to delete the Network security group, remove the association with the resource(s).`, 400),
  /** Compute's refusal to delete a managed disk a VM still holds. */
  diskAttached: (diskName: string, vmId: string) =>
    armError('OperationNotAllowed', `Disk ${diskName} is attached to VM ${vmId}.`, 409),
  /** A NIC (or a VM's inline NIC configuration) without IP configurations, or one without a subnet: `target` is its path. */
  nicRequired: (nicName: string, target: string) =>
    armError('InvalidParameter', `Network interface ${nicName} must have one or more IP configurations, each with a subnet ('${target}').`, 400, { target }),
  /** ARM's refusal of an action the caller's roles do not grant at the scope. */
  authorizationFailed: (action: string, scope: string) =>
    armError('AuthorizationFailed', `The client '${LOCAL_CLIENT}' with object id '${LOCAL_CLIENT}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`, 403),
  /** ARM's refusal of a write whose body references resources the caller may not join, assign or read (linked checks). */
  linkedAuthorizationFailed: (action: string, scope: string, linked: Array<{ action: string; scope: string }>) =>
    armError('LinkedAuthorizationFailed', `The client '${LOCAL_CLIENT}' with object id '${LOCAL_CLIENT}' has permission to perform action '${action}' on scope '${scope}'; however, it does not have permission to perform action(s) '${linked.map((l) => l.action).join(',')}' on the linked scope(s) '${linked.map((l) => l.scope).join(',')}' (respectively) or the linked scope(s) are invalid.`, 403),
  noRollingUpgrade: (scaleSet: string) => armError('NotFound', `No rolling upgrade has run on scale set '${scaleSet}'.`, 404),
  operationNotAllowed: (message: string) => armError('OperationNotAllowed', message, 409),
  conflict: (message: string) => armError('Conflict', message, 409),
  /** A reference to a resource that is missing or in another region: Network's wording, both cases alike. */
  invalidResourceReference: (referencedId: string, byId: string) =>
    armError('InvalidResourceReference', `Resource ${referencedId} referenced by resource ${byId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`, 400),
  /** Compute's answer when a resource and the one it is made from are in different regions. */
  regionMismatch: (target: string, what: string, location: string, source: string, sourceLocation: string) =>
    armError('InvalidParameter', `The ${what} must be in the same region as ${source}: found '${location}', expected '${sourceLocation}'.`, 400, { target }),
  /** The OS type, Hyper-V generation or security type of a source does not fit what is made from it. */
  propertyMismatch: (target: string, property: string, found: string, expected: string, owner: string) =>
    armError('InvalidParameter', `The ${property} '${found}' of the source does not match the ${property} '${expected}' of ${owner}.`, 400, { target }),
  // ---- how an operation ends Failed or Canceled (its status shows it; the operation's own request had succeeded) ----
  /** A newer operation on the resource (a power action, a rolling upgrade) ended this one; `by` names the newer one. */
  operationPreempted: (by?: string): OperationFailure =>
    ({ code: 'OperationPreempted', message: `Operation execution has been preempted by a more recent operation${by ? ` ('${by}')` : ''}.` }),
  /** The script that would have ended the operation died with the previous emulator process. */
  preemptedByRestart: (): OperationFailure => ({ code: 'OperationPreempted', message: 'The emulator restarted while the operation was running; run it again.' }),
  /** A Run Command's protected parameters live in memory only: after a restart its script cannot start. */
  parametersLostInRestart: (): OperationFailure =>
    ({ code: 'OperationPreempted', message: 'The emulator restarted before the script started; its parameters are kept in memory only, so run the command again.' }),
  /** The resource the operation makes was deleted before the operation ended. */
  deletedWhileCreating: (kind: string, id: string): OperationFailure => ({ code: 'NotFound', message: `The ${kind} '${id}' was deleted while it was being created.` }),
  /** What the operation reads (a source, a disk) was deleted before the operation came to it. */
  goneDuringOperation: (kind: string, id: string): OperationFailure => ({ code: 'NotFound', message: `The ${kind} '${id}' was deleted before the operation could use it.` }),
  /** A Run Command's VM (or the command itself) went before its script started. */
  goneBeforeScript: (): OperationFailure => ({ code: 'Conflict', message: 'The VM or run command was removed before the script started.' }),
  /** An effect or an in-process task (a script) broke: `what` it was doing and `why`, as Compute's internal failure. */
  internalExecutionError: (what: string, why: string): OperationFailure =>
    ({ code: 'InternalExecutionError', message: `An internal execution error occurred while ${what}: ${why}` }),
  /** A rolling upgrade stopped Faulted: `counted` says which instances broke the policy's `limit` (`percent`). */
  rollingUpgradeUnhealthy: (limit: 'MaxUnhealthyUpgradedInstancePercent' | 'MaxUnhealthyInstancePercent', counted: string, percent: unknown): OperationFailure =>
    ({ code: `${limit}ExceededInRollingUpgrade`, message: `Rolling Upgrade failed after exceeding the ${limit} value defined in the RollingUpgradePolicy. ${counted}; the limit is ${String(percent)}%.` }),
  /** A rolling upgrade a cancel request stopped. */
  rollingUpgradeCancelled: (): OperationFailure => ({ code: 'OperationCanceled', message: 'The rolling upgrade was cancelled.' }),
  /** The operation's resource was deleted under it. */
  resourceDeleted: (id: string): OperationFailure => ({ code: 'OperationCanceled', message: `The resource '${id}' was deleted.` }),
};
