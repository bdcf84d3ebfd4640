/**
 * Name resolution for downloads: cached, and checked. Every address a name resolves to is checked against
 * the address policy (address.ts) inside the connection's own lookup, so what is checked is what is
 * connected to (no second lookup between the check and the connection for DNS rebinding to slip through).
 * A name with any refused address is refused whole: a host that answers with both a public and a private
 * address is not to be trusted with either.
 */
import { lookup as dnsLookup, promises as dnsPromises, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { compileAllow, refusal, type AddressPolicy } from './address.js';

/** An error a lookup gives for a refused address; the fetcher reports it as `private_address`. */
export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDR';
}

/** How long answers are kept: short enough to follow a site that moves, long enough to skip most lookups. */
const TTL_MS = 5 * 60_000;
const NEGATIVE_TTL_MS = 30_000;
const MAX_CACHED = 100_000;

type Answer = { at: number; addresses?: LookupAddress[]; error?: NodeJS.ErrnoException };

export interface CheckedResolver {
  /** For `net.connect({lookup})`: the signature of dns.lookup, with and without `all`. */
  lookup: (hostname: string, options: { all?: boolean; family?: number } | number, callback: (...args: any[]) => void) => void;
  /** Why an IP literal (no lookup happens for it) is refused, or undefined. */
  refuseLiteral(host: string): string | undefined;
  lookups: number;
}

/**
 * `servers` (--dns-server): ask these resolvers through c-ares (A and AAAA) instead of the system's getaddrinfo.
 * A crawl makes a lookup for every new host: a local caching resolver answers them faster than a distant one, and
 * c-ares answers on the event loop instead of holding a libuv thread that an image decode is waiting for.
 */
export function checkedResolver(policy: AddressPolicy, fixed: Record<string, string[]> = {}, servers: string[] = [], timeoutMs = 8000): CheckedResolver {
  const ask = servers.length ? aresLookup(servers, timeoutMs) : systemLookup;
  const compiled = { allowPrivate: policy.allowPrivate, allow: compileAllow(policy.allow) };
  const cache = new Map<string, Answer>();
  const inflight = new Map<string, Promise<Answer>>();
  const self: CheckedResolver = {
    lookups: 0,
    refuseLiteral: (host) => (isIP(host.replace(/^\[|\]$/g, '')) ? refusal(host, compiled) : undefined),
    lookup(hostname, options, callback) {
      const all = typeof options === 'object' && options.all === true;
      resolve(hostname).then(
        (a) => {
          if (a.error) return callback(a.error);
          const refused = a.addresses!.map((x) => refusal(x.address, compiled)).find((r) => r !== undefined);
          if (refused) return callback(new PrivateAddressError(`${hostname} resolves to ${refused}`));
          if (all) callback(null, a.addresses);
          else callback(null, a.addresses![0]!.address, a.addresses![0]!.family);
        },
        (err) => callback(err),
      );
    },
  };

  function resolve(host: string): Promise<Answer> {
    const hit = cache.get(host);
    const now = Date.now();
    if (hit && now - hit.at < (hit.error ? NEGATIVE_TTL_MS : TTL_MS)) return Promise.resolve(hit);
    const pinned = fixed[host.toLowerCase()];
    if (pinned) return Promise.resolve({ at: now, addresses: pinned.map((address) => ({ address, family: isIP(address) })) });
    let p = inflight.get(host);
    if (!p) {
      self.lookups++;
      p = ask(host).then((a) => {
        cache.delete(host);
        cache.set(host, a);
        // bounded: a task over millions of URLs meets hundreds of thousands of hosts; the oldest answer goes first
        if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
        inflight.delete(host);
        return a;
      });
      inflight.set(host, p);
    }
    return p;
  }
  return self;
}

function systemLookup(host: string): Promise<Answer> {
  return new Promise<Answer>((done) => {
    dnsLookup(host, { all: true }, (err, addresses) => done(err ? { at: Date.now(), error: err } : addresses.length ? { at: Date.now(), addresses } : { at: Date.now(), error: errno(`${host}: no addresses`, 'ENOTFOUND') }));
  });
}

const errno = (message: string, code: string) => Object.assign(new Error(message), { code }) as NodeJS.ErrnoException;

/** A and AAAA from the given servers; IPv4 first, as getaddrinfo orders them on most systems. */
function aresLookup(servers: string[], timeoutMs: number): (host: string) => Promise<Answer> {
  // two tries, each a quarter of the request's time at most: the lookup is part of the request's --timeout
  const r = new dnsPromises.Resolver({ timeout: Math.max(50, Math.min(2000, Math.ceil(timeoutMs / 4))), tries: 2 });
  r.setServers(servers);
  return async (host) => {
    const [a, aaaa] = await Promise.allSettled([r.resolve4(host), r.resolve6(host)]);
    const addresses: LookupAddress[] = [
      ...(a.status === 'fulfilled' ? a.value.map((address) => ({ address, family: 4 })) : []),
      ...(aaaa.status === 'fulfilled' ? aaaa.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (addresses.length) return { at: Date.now(), addresses };
    // NXDOMAIN, or no record of either family, is an answer; a server that did not answer is worth a retry
    const codes = [a, aaaa].map((x) => (x.status === 'rejected' ? (x.reason as NodeJS.ErrnoException).code : undefined));
    if (codes.includes('ENOTFOUND') || codes.every((c) => c === undefined || c === 'ENODATA')) return { at: Date.now(), error: errno(`${host}: no such host`, 'ENOTFOUND') };
    return { at: Date.now(), error: errno(`${host}: the DNS server did not answer (${codes.find(Boolean)})`, 'EAI_AGAIN') };
  };
}
