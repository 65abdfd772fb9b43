// ALLOWED_ORIGINS patterns, the same rules as the Go issuer and proxy (internal/httpx/origins.go),
// written once in docs/configuration.md#allowed-origins and pinned by testdata/vectors/origins.json:
// "*" (any origin but "" and "null"), exact origins, "https://*.example.com" (subdomains, never the
// apex, same scheme and port) and "http://localhost:*" (any port of that scheme and host).

export interface OriginPattern {
  any: boolean;
  scheme: string;
  host: string;
  sub: boolean;
  port: string;
  anyPort: boolean;
  literally: string;
}

/** The routers never accept a bare "*" (the issuer's CORS may). */
export const ANY_ORIGIN_FOR_SOCKETS = '"*" would let any website open sockets as its visitors; list the origins (https://*.example.com for subdomains)';

export const BAD_ORIGIN = "not an origin like https://app.example.com, https://*.example.com or http://localhost:*";

const digits = (s: string): boolean => /^[0-9]{1,5}$/.test(s);

function validHost(h: string): boolean {
  if (h.startsWith("[")) return h.endsWith("]") && h.length > 2 && !/[[\]*]/.test(h.slice(1, -1));
  if (h === "" || h.startsWith(".") || h.endsWith(".") || h.includes("..")) return false;
  return /^[a-z0-9.-]+$/.test(h);
}

/** "scheme://host[:port]" (port may be "*"); undefined for anything with a path, query, user… */
function splitOrigin(s: string): { scheme: string; host: string; port: string } | undefined {
  const i = s.indexOf("://");
  if (i <= 0) return undefined;
  const scheme = s.slice(0, i);
  let rest = s.slice(i + 3);
  if (rest === "" || !/^[a-z0-9+.-]+$/.test(scheme) || /[/?#@ \\]/.test(rest)) return undefined;
  let host = rest;
  let port = "";
  let hasPort = false;
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]");
    if (end < 0) return undefined;
    host = rest.slice(0, end + 1);
    rest = rest.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined;
      hasPort = true;
      port = rest.slice(1);
    }
  } else {
    const c = rest.lastIndexOf(":");
    if (c >= 0) {
      hasPort = true;
      host = rest.slice(0, c);
      port = rest.slice(c + 1);
    }
  }
  if (host === "" || (hasPort && port === "")) return undefined;
  return { scheme, host, port };
}

/**
 * Trims the ASCII space, tab, CR and LF around a list entry, and nothing else: trim() and Go's
 * strings.TrimSpace disagree beyond ASCII (U+FEFF, U+0085), and the Go issuer and proxy must judge
 * the same ALLOWED_ORIGINS as the Worker.
 */
export const trimEntry = (s: string): string => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");

/** Parses one entry; throws Error(BAD_ORIGIN) for anything that is not a pattern. */
export function parseOriginPattern(raw: string): OriginPattern {
  const s = trimEntry(raw).replace(/\/+$/, "");
  if (s === "*") return { any: true, scheme: "", host: "", sub: false, port: "", anyPort: false, literally: "*" };
  const parts = splitOrigin(s);
  if (!parts) throw new Error(BAD_ORIGIN);
  let { host } = parts;
  const anyPort = parts.port === "*";
  if (!anyPort && parts.port !== "" && !digits(parts.port)) throw new Error(BAD_ORIGIN);
  let sub = false;
  if (host.startsWith("*.")) {
    sub = true;
    host = host.slice(2);
    if (!host.includes(".") && host !== "localhost") throw new Error(BAD_ORIGIN);
  }
  if (!validHost(host)) throw new Error(BAD_ORIGIN);
  return { any: false, scheme: parts.scheme, host, sub, port: anyPort ? "" : parts.port, anyPort, literally: s };
}

export function originMatches(p: OriginPattern, origin: string): boolean {
  if (p.any) return origin !== "" && origin !== "null";
  if (!p.sub && !p.anyPort) return origin === p.literally;
  const o = splitOrigin(origin);
  if (!o || o.scheme !== p.scheme || o.port === "*" || (o.port !== "" && !digits(o.port)) || !validHost(o.host)) return false;
  if (!p.anyPort && o.port !== p.port) return false;
  if (p.sub) return o.host.endsWith("." + p.host) && o.host.length > p.host.length + 1;
  return o.host === p.host;
}
