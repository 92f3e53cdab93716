/** Microsoft.Network's address and security-rule checks, with its error codes: what a VNet, subnet or NSG must satisfy. */
import ipaddr from 'ipaddr.js';
import type { HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import { isObject, objectAt, requiredString, type Json } from '../validate.ts';

type Cidr = [ipaddr.IPv4, number];

/** A subnet's or NIC's NSG must exist in its region (Network answers InvalidResourceReference either way). */
export function checkNsgReference(ctx: HandlerContext, properties: Json, location: string | undefined, referrerId: string): void {
  const nsg = objectAt(properties, 'networkSecurityGroup', 'properties.networkSecurityGroup');
  const nsgId = nsg ? requiredString(nsg, 'id', 'properties.networkSecurityGroup.id') : undefined;
  if (nsgId && ctx.resources.find(nsgId)?.location !== location) throw errors.invalidResourceReference(nsgId, referrerId);
}

/** An IPv4 prefix in CIDR notation, or Azure's 400 naming the resource it came with. */
export function parsePrefix(prefix: unknown, resourceId: string, target: string): Cidr {
  if (typeof prefix !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(prefix) || !ipaddr.IPv4.isValidFourPartDecimal(prefix.split('/')[0]!)) {
    throw errors.invalidAddressPrefixFormat(String(prefix), resourceId, target);
  }
  const cidr = ipaddr.IPv4.parseCIDR(prefix);
  if (cidr[1] > 32) throw errors.addressPrefixTooLong(prefix, resourceId, target);
  const network = ipaddr.IPv4.networkAddressFromCIDR(prefix).toString();
  if (network !== cidr[0].toString()) {
    throw errors.invalidCidrNotation(prefix, resourceId, `${network}/${cidr[1]}`, target);
  }
  return cidr;
}

const inside = (inner: Cidr, outer: Cidr) => inner[1] >= outer[1] && inner[0].match(outer);
const overlap = (a: Cidr, b: Cidr) => inside(a, b) || inside(b, a);

/** The VNet's own prefixes, checked. */
export function vnetPrefixes(properties: Json, vnetId: string): Cidr[] {
  const space = properties.addressSpace;
  const list = isObject(space) && Array.isArray(space.addressPrefixes) ? space.addressPrefixes : [];
  return list.map((p, i) => parsePrefix(p, vnetId, `properties.addressSpace.addressPrefixes[${i}]`));
}

/** A subnet's prefix must lie inside one of its VNet's and overlap no sibling's. */
export function checkSubnetRange(subnet: { id: string; name: string; prefix: unknown }, vnet: { name: string; prefixes: Cidr[] }, siblings: Array<{ name: string; prefix: unknown }>): void {
  const cidr = parsePrefix(subnet.prefix, subnet.id, 'properties.addressPrefix');
  if (!vnet.prefixes.some((outer) => inside(cidr, outer))) {
    throw errors.subnetRangeOutsideVnet(subnet.name, vnet.name);
  }
  for (const sibling of siblings) {
    if (sibling.name.toLowerCase() === subnet.name.toLowerCase() || typeof sibling.prefix !== 'string') continue;
    if (overlap(cidr, ipaddr.IPv4.parseCIDR(sibling.prefix))) {
      throw errors.subnetRangesOverlap(subnet.name, sibling.name, vnet.name);
    }
  }
}

const DIRECTIONS = ['Inbound', 'Outbound'];
const ACCESS = ['Allow', 'Deny'];

/** Each security rule: priority 100–4096 (unique per direction), direction, access and protocol as Azure names them. */
export function checkSecurityRules(rules: unknown[], nsgId: string): void {
  const taken = new Map<string, string>();
  rules.forEach((rule, i) => {
    const at = `properties.securityRules[${i}]`;
    const name = isObject(rule) && typeof rule.name === 'string' ? rule.name : `#${i}`;
    const props = isObject(rule) && isObject(rule.properties) ? rule.properties : {};
    const priority = props.priority;
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 100 || priority > 4096) {
      throw errors.securityRuleInvalidPriority(name, priority, `${at}.properties.priority`);
    }
    if (!DIRECTIONS.includes(String(props.direction))) {
      throw errors.securityRuleInvalidValue('Direction', name, props.direction, DIRECTIONS, `${at}.properties.direction`);
    }
    if (!ACCESS.includes(String(props.access))) {
      throw errors.securityRuleInvalidValue('Access', name, props.access, ACCESS, `${at}.properties.access`);
    }
    const key = `${String(props.direction)}/${priority}`;
    const clash = taken.get(key);
    if (clash) {
      throw errors.securityRuleConflict(name, clash, nsgId, `${at}.properties.priority`);
    }
    taken.set(key, name);
  });
}
