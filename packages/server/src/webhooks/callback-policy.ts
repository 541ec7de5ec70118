import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RunletError } from '../errors.js';

/** Longest callback URL accepted: a URL is an address, not a place to carry data. */
const MAX_URL_LENGTH = 2048;

/**
 * Where completion webhooks may go. A callback URL must be http(s), name an allowed host (when
 * an allow-list is configured), and every address it resolves to must be public unicast
 * unless it lies in an allowed network. Names are resolved when each delivery connects, by the
 * lookup the connection itself uses, so a name that changes its answer between check and
 * connect (DNS rebinding) cannot slip through.
 */
export class CallbackPolicy {
  private readonly networks: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  constructor(private readonly options: { allowedHosts: readonly string[]; allowedNetworks: readonly string[] }) {
    this.networks = options.allowedNetworks.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /** Checks a callback URL as given (throws CALLBACK_URL_INVALID or CALLBACK_URL_NOT_ALLOWED). */
  accept(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new RunletError('CALLBACK_URL_INVALID', `X-Callback-Url is not an absolute URL: ${JSON.stringify(raw.slice(0, 100))}.`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || raw.length > MAX_URL_LENGTH || url.username || url.password) {
      throw new RunletError('CALLBACK_URL_INVALID');
    }
    const host = hostOf(url);
    if (!this.hostAllowed(host)) throw new RunletError('CALLBACK_URL_NOT_ALLOWED', `Callbacks may not go to "${host}": it is not on the allow-list.`);
    if (isIP(host)) {
      const refusal = this.refusalOf(host);
      if (refusal) throw new RunletError('CALLBACK_URL_NOT_ALLOWED', `Callbacks may not go to ${host}: ${refusal}.`);
    }
    return url;
  }

  /** Why an address may not be reached, or undefined when it may. */
  refusalOf(address: string): string | undefined {
    if (!ipaddr.isValid(address)) return 'it is not an IP address';
    const ip = ipaddr.process(address);
    if (this.networks.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return undefined;
    const range = ip.range();
    return range === 'unicast' ? undefined : `it is a ${range} address`;
  }

  /** A `lookup` for sockets to callback URLs: resolves as usual, then refuses any address not allowed. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const refusal = this.refusalOf(a.address);
        if (refusal) return callback(new RunletError('CALLBACK_URL_NOT_ALLOWED', `${hostname} resolves to ${a.address}, and ${refusal}.`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };

  private hostAllowed(host: string): boolean {
    const { allowedHosts } = this.options;
    if (allowedHosts.length === 0) return true;
    return allowedHosts.some((entry) => {
      const pattern = entry.toLowerCase();
      return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
    });
  }
}

/** The host of a URL, without the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}
