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

export function armError(code: string, message: string, status: number, options?: { target?: string; headers?: Record<string, string> }): ArmError {
  return new ArmError(code, message, status, options);
}

/** Azure's wording for the common cases, so handlers do not each invent their own. */
export const errors = {
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
};
