/** The azure-arm settings that authenticate Packer itself: Kiln never reads, stores or echoes them. */

/** Fields whose values are credentials or choose how Packer signs in; Kiln acts as its own managed identity instead. */
export const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set([
  'client_id', 'client_secret', 'client_cert_path', 'client_cert_token_timeout', 'client_jwt', 'tenant_id', 'object_id',
  'oidc_request_url', 'oidc_request_token', 'use_azure_cli_auth', 'use_interactive_auth', 'cloud_environment_name',
  'metadata_host', 'skip_create_image',
]);

/** Provisioner fields that carry a password for the VM user (e.g. powershell `elevated_password`). */
export const PASSWORD_FIELDS: ReadonlySet<string> = new Set(['elevated_password']);

/** Fields read when their variables have values and left out when not: Kiln has its own fallback (`--subscription`). */
export const OPTIONAL_FIELDS: ReadonlySet<string> = new Set(['subscription_id']);

/** Fields kept unread: credentials, passwords and communicator settings (ssh_password, winrm_password…), which Kiln never uses. */
export function isUnreadField(key: string): boolean {
  return CREDENTIAL_FIELDS.has(key) || PASSWORD_FIELDS.has(key) || /^(ssh|winrm)_/.test(key);
}
