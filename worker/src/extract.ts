// Handshake token extraction: the twin of contract/extract.go (rules in docs/protocol.md).
import { TokenError } from "./verify";

export const SUBPROTOCOL = "office-router.v1";
const BEARER_PREFIX = "bearer.";
const MAX_SUBPROTOCOLS = 16;

export interface Extracted {
  token: string;
  /** Subprotocol to select in the 101 response, or "". */
  select: string;
}

export function extractToken(headers: Headers): Extracted {
  const offered = (headers.get("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((p) => p.trim());
  if (headers.get("Sec-WebSocket-Protocol") === null) offered.length = 0;
  if (offered.length > MAX_SUBPROTOCOLS) throw new TokenError("malformed");
  let select = "";
  const bearer: string[] = [];
  for (const p of offered) {
    if (p === SUBPROTOCOL) select = SUBPROTOCOL;
    else if (p.length >= BEARER_PREFIX.length && p.slice(0, BEARER_PREFIX.length).toLowerCase() === BEARER_PREFIX) {
      bearer.push(p.slice(BEARER_PREFIX.length));
    }
  }
  if (bearer.length > 1) throw new TokenError("malformed");
  const auth = headers.get("Authorization");
  if (auth !== null) {
    if (bearer.length === 1) throw new TokenError("malformed");
    const trimmed = auth.trim();
    const sp = trimmed.indexOf(" ");
    if (sp < 0 || trimmed.slice(0, sp).toLowerCase() !== "bearer") throw new TokenError("malformed");
    const token = trimmed.slice(sp + 1).trim();
    if (token === "") throw new TokenError("missing_token");
    return { token, select };
  }
  if (bearer.length === 0 || bearer[0] === "") throw new TokenError("missing_token");
  if (select === "") throw new TokenError("malformed");
  return { token: bearer[0], select };
}
