/**
 * Which network addresses Kiln may send to or have a build VM download from: link-local and cloud metadata
 * addresses never (they hand out the host's identity tokens), private ranges only where a deployment allows them.
 */
import { BlockList, isIP } from 'node:net';

export type AddressKind = 'public' | 'private' | 'link-local or metadata';

const forbidden = new BlockList();
forbidden.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, with the instance metadata service at 169.254.169.254
forbidden.addAddress('168.63.129.16', 'ipv4'); // Azure's WireServer (platform DNS, DHCP, health probes)
forbidden.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host": connects to the local machine
forbidden.addSubnet('fe80::', 10, 'ipv6');
forbidden.addAddress('fd00:ec2::254', 'ipv6'); // the metadata service's IPv6 address on other clouds
forbidden.addAddress('::', 'ipv6');

const privateRanges = new BlockList();
for (const [network, prefix] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['100.64.0.0', 10]] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
}
privateRanges.addSubnet('fc00::', 7, 'ipv6');
privateRanges.addAddress('::1', 'ipv6');

/** The kind of an IP address (IPv4-mapped IPv6 counts as its IPv4 address). */
export function addressKind(ip: string): AddressKind {
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (forbidden.check(ip, family)) return 'link-local or metadata';
  if (privateRanges.check(ip, family)) return 'private';
  return 'public';
}

/** The IP address a URL's host spells (any IPv4 notation the URL parser accepts), or undefined for a name. */
export function literalAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? host : undefined;
}

/** Why `ip` may not be a target, or undefined when it may. */
export function addressRefusal(ip: string, allowPrivate: boolean): string | undefined {
  const kind = addressKind(ip);
  if (kind === 'link-local or metadata') return `${ip} is a link-local or metadata address`;
  if (kind === 'private' && !allowPrivate) return `${ip} is a private address (setting KILN_ALLOW_PRIVATE_TARGETS allows those)`;
  return undefined;
}

/** True for a URL whose host is a link-local or metadata address literal: refused in any template. */
export function namesForbiddenAddress(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const ip = literalAddress(new URL(value));
  return ip !== undefined && addressKind(ip) === 'link-local or metadata';
}
