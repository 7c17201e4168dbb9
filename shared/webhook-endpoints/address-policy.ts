// Where a customer's webhook may point (SSRF protection): the URL's scheme, then every address its host
// resolves to, checked against the special-purpose ranges of ipaddr.js (private, loopback, link-local with the
// 169.254.169.254 metadata service, unique-local with fd00:ec2::254, carrier-grade NAT, reserved, multicast,
// NAT64 and 6to4 forms that embed an IPv4 address...). Only `unicast` (public) addresses pass. Checked at
// creation and again before each delivery, whose connection then goes to the address checked here (no second
// DNS answer between check and connect).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { config } from '../config.ts';

export type TargetPolicy = 'public' | 'local';

export const MAX_URL_LENGTH = 2048;

/** The URL or its resolved address is not one a webhook may be delivered to: `reason` says why, for people. */
export class WebhookTargetRefusedError extends Error {
  override readonly name = 'WebhookTargetRefusedError';
}

/** An address the connection goes to, checked. */
export type CheckedTarget = { url: URL; address: string; family: 4 | 6 };

/** The ipaddr.js range an address is in when it is not a public unicast one, else undefined. */
export function refusedRange(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address);
  // ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address it maps.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}

/** The URL's own rules (no network): parseable, https (http too under the local policy), no credentials. */
export function parseWebhookUrl(text: string, policy: TargetPolicy = config.webhookTargets): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookTargetRefusedError('is not a URL');
  }
  const schemes = policy === 'public' ? ['https:'] : ['https:', 'http:'];
  if (!schemes.includes(url.protocol)) {
    throw new WebhookTargetRefusedError(policy === 'public' ? 'must be https' : 'must be http or https');
  }
  if (url.username || url.password) throw new WebhookTargetRefusedError('must not carry credentials');
  if (url.hash) throw new WebhookTargetRefusedError('must not have a fragment');
  return url;
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Resolves the URL's host (every address) and checks each against the policy: one refused address refuses the
 * URL, since DNS may hand out any of them. Answers the first address, which the delivery connects to.
 */
export async function checkWebhookTarget(
  text: string,
  policy: TargetPolicy = config.webhookTargets,
): Promise<CheckedTarget> {
  const url = parseWebhookUrl(text, policy);
  const host = hostOf(url);
  let addresses: { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (error) {
      throw new WebhookTargetRefusedError(`host ${host} does not resolve`, { cause: error });
    }
  }
  const first = addresses[0];
  if (!first) throw new WebhookTargetRefusedError(`host ${host} does not resolve`);
  if (policy === 'public') {
    for (const { address } of addresses) {
      const range = refusedRange(address);
      if (range) {
        throw new WebhookTargetRefusedError(
          `resolves to ${address}, a ${range} address; only public addresses are allowed`,
        );
      }
    }
  }
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
