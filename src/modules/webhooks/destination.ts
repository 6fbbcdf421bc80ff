// Where webhooks may go: https only and no private, loopback or link-local addresses unless
// WEBHOOK_ALLOW_PRIVATE; literal addresses are refused at subscribe time, resolved names at connect time.
import { BlockList, isIP } from 'node:net';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** True for a literal IP address in a private, loopback, link-local or otherwise non-public range. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return false;
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) reaches the IPv4 host it embeds.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const value = (parseInt(hex[1]!, 16) << 16) | parseInt(hex[2]!, 16);
    const v4 = [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
    return blocked.check(v4, 'ipv4');
  }
  return blocked.check(address, 'ipv6');
}

/** Why a URL may not receive webhooks, or undefined when it may. */
export function refuseDestination(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return 'must use https';
  // Credentials in a URL would be stored and shown in lists; the signature authenticates us instead.
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!allowPrivate && isNonPublicAddress(host)) return 'must not point to a private, loopback or link-local address';
  return undefined;
}

/** Only the host of a URL: what logs may show (paths and query strings can carry secrets). */
export function hostOf(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return 'invalid-url';
  }
}

/** Outbound agents that check every resolved address at connect time (no DNS rebinding around the subscribe-time check). */
export function destinationAgents(allowPrivate: boolean) {
  const options = { keepAlive: true, maxSockets: 64, allowPrivateIPAddress: allowPrivate };
  return { http: new RequestFilteringHttpAgent(options), https: new RequestFilteringHttpsAgent(options) };
}
