/**
 * Which IP addresses a download may connect to. A URL list is untrusted input and a download job runs
 * inside a cluster, next to metadata services and internal APIs: an address that is loopback, private,
 * link-local, multicast, reserved or a cloud metadata endpoint is refused unless the user allows it. The
 * check is on the bytes of the address, after IPv4-mapped and -embedded IPv6 forms are unwrapped, so
 * `::ffff:127.0.0.1`, `::ffff:7f00:1` and `64:ff9b::a9fe:a9fe` are what they point at.
 */
import { isIP } from 'node:net';

/** An address as 4 (IPv4) or 16 (IPv6) bytes. */
type Bytes = number[];

interface Range {
  bytes: Bytes;
  bits: number;
  why: string;
}

export function parseIp(text: string): Bytes | undefined {
  const s = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v = isIP(s);
  if (v === 4) return s.split('.').map(Number);
  if (v !== 6) return undefined;
  let head = s;
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = dotted[1]!.split('.').map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    head = s.slice(0, s.length - dotted[1]!.length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  let words: number[];
  const dbl = head.indexOf('::');
  if (dbl >= 0) {
    const left = groups(head.slice(0, dbl));
    const right = [...groups(head.slice(dbl + 2)), ...tail];
    words = [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  } else words = [...groups(head), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function cidr(text: string, why: string): Range {
  const [addr, bits] = text.split('/');
  const bytes = parseIp(addr!);
  if (!bytes) throw new Error(`bad CIDR ${text}`);
  return { bytes, bits: bits === undefined ? bytes.length * 8 : Number(bits), why };
}

function inRange(b: Bytes, r: Range): boolean {
  if (b.length !== r.bytes.length) return false;
  for (let i = 0; i < r.bits; i += 8) {
    const n = Math.min(8, r.bits - i);
    const mask = (0xff << (8 - n)) & 0xff;
    if ((b[i / 8]! & mask) !== (r.bytes[i / 8]! & mask)) return false;
  }
  return true;
}

/** Never images, always refused: the instance metadata services of the clouds a job may run in. */
const METADATA: Range[] = [
  cidr('169.254.169.254/32', 'cloud metadata (AWS, GCP, Azure, OpenStack)'),
  cidr('169.254.170.2/32', 'cloud metadata (AWS ECS task credentials)'),
  cidr('100.100.100.200/32', 'cloud metadata (Alibaba Cloud)'),
  cidr('168.63.129.16/32', 'cloud platform endpoint (Azure WireServer)'),
  cidr('fd00:ec2::254/128', 'cloud metadata (AWS, IPv6)'),
];

const PRIVATE: Range[] = [
  cidr('0.0.0.0/8', 'unspecified ("this network")'),
  cidr('10.0.0.0/8', 'private (RFC 1918)'),
  cidr('100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  cidr('127.0.0.0/8', 'loopback'),
  cidr('169.254.0.0/16', 'link-local'),
  cidr('172.16.0.0/12', 'private (RFC 1918)'),
  cidr('192.0.0.0/24', 'IETF protocol assignments'),
  cidr('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  cidr('192.168.0.0/16', 'private (RFC 1918)'),
  cidr('198.18.0.0/15', 'benchmarking'),
  cidr('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  cidr('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  cidr('224.0.0.0/4', 'multicast'),
  cidr('240.0.0.0/4', 'reserved (and broadcast)'),
  cidr('::/128', 'unspecified'),
  cidr('::1/128', 'loopback'),
  cidr('::/96', 'IPv4-compatible (deprecated)'),
  cidr('64:ff9b:1::/48', 'local-use NAT64'),
  cidr('100::/64', 'discard-only'),
  cidr('2001::/32', 'Teredo tunnel'),
  cidr('2001:db8::/32', 'documentation'),
  cidr('fc00::/7', 'unique local (fc00::/7, fd00::/8)'),
  cidr('fe80::/10', 'link-local'),
  cidr('fec0::/10', 'site-local (deprecated)'),
  cidr('ff00::/8', 'multicast'),
];

/** IPv6 forms that carry an IPv4 address: the IPv4 address is what gets checked. */
function embeddedV4(b: Bytes): Bytes | undefined {
  if (b.length !== 16) return undefined;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12); // ::ffff:a.b.c.d (mapped)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12); // 64:ff9b::/96 (NAT64)
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6); // 2002::/16 (6to4)
  return undefined;
}

export interface AddressPolicy {
  /** `--allow-private-addresses`: loopback, private, link-local... are allowed (metadata endpoints never). */
  allowPrivate: boolean;
  /** `--allow-address CIDR`: these are allowed even when private. */
  allow: string[];
}

export function compileAllow(list: string[]): Range[] {
  return list.map((c) => cidr(c, 'allowed'));
}

/** Checks a CIDR or address given on the command line; undefined when it is valid. */
export function badCidr(text: string): string | undefined {
  const [addr, bits, more] = text.split('/');
  if (more !== undefined) return 'more than one "/"';
  const b = parseIp(addr ?? '');
  if (!b) return `"${addr}" is not an IP address`;
  if (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= b.length * 8)) return `"/${bits}" is not a prefix length for ${b.length === 4 ? 'IPv4' : 'IPv6'}`;
  return undefined;
}

/** Why an address is refused under the policy, or undefined when a download may connect to it. */
export function refusal(address: string, policy: { allowPrivate: boolean; allow: Range[] }): string | undefined {
  const b = parseIp(address);
  if (!b) return `"${address}" is not an IP address`;
  const v4 = embeddedV4(b);
  const checked = v4 ?? b;
  const shown = v4 ? `${address} (${v4.join('.')})` : address;
  for (const r of METADATA) if (inRange(checked, r) || inRange(b, r)) return `${shown} is ${r.why}`;
  if (policy.allow.some((r) => inRange(checked, r) || inRange(b, r))) return undefined;
  if (policy.allowPrivate) return undefined;
  for (const r of PRIVATE) if (inRange(checked, r)) return `${shown} is ${r.why}; --allow-private-addresses lets a download connect to it`;
  return undefined;
}
