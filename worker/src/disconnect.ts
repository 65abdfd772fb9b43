// The body of POST /orgs/{org}/disconnect, read by the tokens' strict reader like the publish body
// (publish.ts, parseBodyMembers): the twin of the Go proxy's disconnect body parser (docs/protocol.md).
import { HttpError } from "./errors";
import type { Value } from "./json";
import { parseBodyMembers } from "./publish";
import { isValidId } from "./verify";

/** The close codes a backend may ask for: 4001 reconnect with a fresh token, 4003 terminal. */
export const CLOSE_REAUTH_REQUIRED = 4001;
export const CLOSE_REVOKED = 4003;
export type DisconnectCode = typeof CLOSE_REAUTH_REQUIRED | typeof CLOSE_REVOKED;

/** The close reason sent with each code. */
export const DISCONNECT_REASON: Record<DisconnectCode, string> = { 4001: "reauth_required", 4003: "revoked" };

/** The longest block one call may set (one hour). */
export const MAX_BLOCK_SECONDS = 3600;

export interface DisconnectBody {
  userId: string;
  code: DisconnectCode;
  /** 0 (absent) adds no block and lifts none. */
  blockSeconds: number;
}

/** The value of a JSON number member, or NaN for anything that is not a number (null included). */
const numberOf = (v: Value): number => (v.kind === "number" ? Number(v.num) : NaN);

/**
 * `{"userId": "<id>", "code": 4001 | 4003, "blockSeconds"?: 0–3600}`: exactly these keys, no
 * nulls, `code` and `blockSeconds` compared by value (so 4001.0 is 4001, 60.5 is a fraction and
 * refused). Anything else is 400 bad_request and closes nothing.
 */
export function parseDisconnectBody(text: string): DisconnectBody {
  const members = parseBodyMembers(text, ["userId", "code", "blockSeconds"]);
  const user = members.get("userId");
  const code = members.get("code");
  const block = members.get("blockSeconds");
  if (!user || user.kind !== "string" || !isValidId(user.str!)) throw new HttpError(400, "bad_request");
  const c = code ? numberOf(code) : NaN;
  if (c !== CLOSE_REAUTH_REQUIRED && c !== CLOSE_REVOKED) throw new HttpError(400, "bad_request");
  const b = block ? numberOf(block) : 0;
  if (!Number.isInteger(b) || b < 0 || b > MAX_BLOCK_SECONDS) throw new HttpError(400, "bad_request");
  return { userId: user.str!, code: c, blockSeconds: b };
}
