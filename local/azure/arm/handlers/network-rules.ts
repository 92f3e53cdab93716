/** Microsoft.Network's address and security-rule checks, with its error codes: what a VNet, subnet or NSG must satisfy. */
import ipaddr from 'ipaddr.js';
import { armError } from '../errors.ts';
import { isObject, type Json } from '../validate.ts';

type Cidr = [ipaddr.IPv4, number];

/** An IPv4 prefix in CIDR notation, or Azure's 400 naming the resource it came with. */
export function parsePrefix(prefix: unknown, resourceId: string, target: string): Cidr {
  if (typeof prefix !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(prefix) || !ipaddr.IPv4.isValidFourPartDecimal(prefix.split('/')[0]!)) {
    throw armError('InvalidAddressPrefixFormat', `Address prefix ${String(prefix)} of resource ${resourceId} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.`, 400, { target });
  }
  const cidr = ipaddr.IPv4.parseCIDR(prefix);
  if (cidr[1] > 32) throw armError('InvalidAddressPrefixFormat', `Address prefix ${prefix} of resource ${resourceId} has a prefix length above 32.`, 400, { target });
  const network = ipaddr.IPv4.networkAddressFromCIDR(prefix).toString();
  if (network !== cidr[0].toString()) {
    throw armError('InvalidCIDRNotation', `The address prefix ${prefix} in resource ${resourceId} has an invalid CIDR notation. For the given prefix length, the address prefix should be ${network}/${cidr[1]}.`, 400, { target });
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
    throw armError('NetcfgSubnetRangeOutsideVnet', `Subnet '${subnet.name}' is not valid because its IP address range is outside the IP address range of virtual network '${vnet.name}'.`, 400, { target: 'properties.addressPrefix' });
  }
  for (const sibling of siblings) {
    if (sibling.name.toLowerCase() === subnet.name.toLowerCase() || typeof sibling.prefix !== 'string') continue;
    if (overlap(cidr, ipaddr.IPv4.parseCIDR(sibling.prefix))) {
      throw armError('NetcfgSubnetRangesOverlap', `Subnet '${subnet.name}' is not valid because its IP address range overlaps with that of an existing subnet '${sibling.name}' in virtual network '${vnet.name}'.`, 400, { target: 'properties.addressPrefix' });
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
      throw armError('SecurityRuleInvalidPriority', `Security rule ${name} has invalid Priority. Value provided: ${JSON.stringify(priority)} Allowed range 100-4096.`, 400, { target: `${at}.properties.priority` });
    }
    if (!DIRECTIONS.includes(String(props.direction))) {
      throw armError('SecurityRuleInvalidDirection', `Security rule ${name} has invalid Direction. Value provided: ${JSON.stringify(props.direction)} Allowed values: ${DIRECTIONS.join(', ')}.`, 400, { target: `${at}.properties.direction` });
    }
    if (!ACCESS.includes(String(props.access))) {
      throw armError('SecurityRuleInvalidAccess', `Security rule ${name} has invalid Access. Value provided: ${JSON.stringify(props.access)} Allowed values: ${ACCESS.join(', ')}.`, 400, { target: `${at}.properties.access` });
    }
    const key = `${String(props.direction)}/${priority}`;
    const clash = taken.get(key);
    if (clash) {
      throw armError('SecurityRuleConflict', `Security rule ${name} conflicts with rule ${clash}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules. (${nsgId})`, 400, { target: `${at}.properties.priority` });
    }
    taken.set(key, name);
  });
}
