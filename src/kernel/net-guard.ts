import { BlockList, isIP } from "node:net";

/**
 * Which network addresses paycore may send a request to on a merchant's say-so (webhooks).
 * Loopback, private, link-local, multicast, unspecified and reserved addresses are internal: a
 * merchant must not make paycore reach its admin API, the sandbox, a cloud metadata service or
 * anything else behind the firewall (SSRF). `PAYCORE_WEBHOOK_ALLOW_HOSTS` is the only way around.
 */
export type InternalKind = "unspecified" | "loopback" | "private" | "link-local" | "multicast" | "reserved";

const RANGES: readonly [InternalKind, "ipv4" | "ipv6", string, number][] = [
  ["unspecified", "ipv4", "0.0.0.0", 8],
  ["private", "ipv4", "10.0.0.0", 8],
  ["private", "ipv4", "100.64.0.0", 10], // carrier-grade NAT
  ["loopback", "ipv4", "127.0.0.0", 8],
  ["link-local", "ipv4", "169.254.0.0", 16], // cloud metadata lives here
  ["private", "ipv4", "172.16.0.0", 12],
  ["reserved", "ipv4", "192.0.0.0", 24],
  ["reserved", "ipv4", "192.0.2.0", 24],
  ["private", "ipv4", "192.168.0.0", 16],
  ["reserved", "ipv4", "198.18.0.0", 15],
  ["reserved", "ipv4", "198.51.100.0", 24],
  ["reserved", "ipv4", "203.0.113.0", 24],
  ["multicast", "ipv4", "224.0.0.0", 4],
  ["reserved", "ipv4", "240.0.0.0", 4], // includes 255.255.255.255
  ["unspecified", "ipv6", "::", 128],
  ["loopback", "ipv6", "::1", 128],
  ["reserved", "ipv6", "100::", 64],
  ["reserved", "ipv6", "2001:db8::", 32],
  ["private", "ipv6", "fc00::", 7],
  ["link-local", "ipv6", "fe80::", 10],
  ["private", "ipv6", "fec0::", 10], // deprecated site-local
  ["multicast", "ipv6", "ff00::", 8],
];

const BY_KIND = new Map<InternalKind, BlockList>();
for (const [kind, family, network, prefix] of RANGES) {
  const list = BY_KIND.get(kind) ?? new BlockList();
  list.addSubnet(network, prefix, family);
  BY_KIND.set(kind, list);
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const o = dotted[1]!.split(".").map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill("0");
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

/**
 * An IPv4 address carried inside an IPv6 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`): it reaches that IPv4 host.
 */
function embeddedIpv4(address: string): string | null {
  const g = ipv6Groups(address);
  if (!g) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6]!, g[7]!);
  if (zeros(0, 6) && (g[6] !== 0 || g[7]! > 1)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return null;
}

/** The kind of internal address `address` is (an IP literal), or null for a public one. */
export function internalKind(address: string): InternalKind | null {
  const plain = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(plain);
  if (family === 0) return "reserved"; // not an address at all: never treated as public
  const inner = family === 6 ? embeddedIpv4(plain) : null;
  if (inner) return internalKind(inner);
  for (const [kind, list] of BY_KIND) if (list.check(plain, family === 4 ? "ipv4" : "ipv6")) return kind;
  return null;
}

/** `PAYCORE_WEBHOOK_ALLOW_HOSTS`, compiled: host names, and IP addresses or CIDR ranges. */
export interface AllowList {
  readonly entries: readonly string[];
  allowsHost(host: string): boolean;
  allowsAddress(address: string): boolean;
}

const HOST_NAME_RE = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/;

/** Compiles the allowlist; a bad entry throws an Error naming it. */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const ips = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, "");
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr && isIP(cidr[1]!) !== 0) {
      const family = isIP(cidr[1]!) === 4 ? "ipv4" : "ipv6";
      const prefix = Number(cidr[2]);
      if (prefix > (family === "ipv4" ? 32 : 128)) throw new Error(`'${raw}': prefix too long`);
      ips.addSubnet(cidr[1]!, prefix, family);
    } else if (isIP(entry) !== 0) {
      ips.addAddress(entry, isIP(entry) === 4 ? "ipv4" : "ipv6");
    } else if (HOST_NAME_RE.test(entry.replace(/\.$/, ""))) {
      hosts.add(entry.replace(/\.$/, ""));
    } else {
      throw new Error(`'${raw}': not a host name, an IP address or a CIDR range`);
    }
  }
  return {
    entries: [...entries],
    allowsHost: (host) => hosts.has(host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "")),
    allowsAddress: (address) => {
      const plain = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
      const family = isIP(plain);
      if (family === 0) return false;
      if (ips.check(plain, family === 4 ? "ipv4" : "ipv6")) return true;
      const inner = family === 6 ? embeddedIpv4(plain) : null;
      return inner !== null && ips.check(inner, "ipv4");
    },
  };
}

const compiled = new WeakMap<readonly string[], AllowList>();

/** The allowlist of a settings array, compiled once. */
export function allowListOf(entries: readonly string[]): AllowList {
  let list = compiled.get(entries);
  if (!list) {
    list = parseAllowList(entries);
    compiled.set(entries, list);
  }
  return list;
}

/**
 * What is wrong with a URL paycore would POST to, judged without resolving names: the scheme,
 * credentials, and an address literal (WHATWG URL parsing already turns `0x7f000001`,
 * `2130706433` and `0177.0.0.1` into `127.0.0.1`). Null when it may be used; the delivery still
 * resolves the name and judges the addresses before connecting.
 */
export function urlProblem(url: string, allow: AllowList): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "only http and https URLs";
  if (parsed.username || parsed.password) return "credentials in the URL are not accepted";
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (allow.allowsHost(host)) return null;
  if (isIP(host) !== 0) return internalKind(host) && !allow.allowsAddress(host) ? INTERNAL_MESSAGE : null;
  if (host === "localhost" || host.endsWith(".localhost")) return allow.allowsAddress("127.0.0.1") ? null : INTERNAL_MESSAGE;
  return null;
}

export const INTERNAL_MESSAGE = "an internal address (loopback, private, link-local, multicast or unspecified) is not allowed; PAYCORE_WEBHOOK_ALLOW_HOSTS lists the only exceptions";
