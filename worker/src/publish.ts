// The publish body: read under the limit while streaming, then parsed by the strict reader.
import { HttpError } from "./errors";
import { JSONError, parseTopObject, type Value } from "./json";
import { isValidId } from "./verify";

/**
 * How long a publish body may take to arrive: the Go proxy's server ReadTimeout. A body that
 * never ends would otherwise hold the request for as long as its sender keeps the connection.
 */
export const BODY_READ_TIMEOUT_MS = 15_000;

/**
 * Reads at most `max` bytes of a body, counting while reading: a chunked or lying body is cut off
 * at the limit instead of being buffered in full. Invalid UTF-8, or a body still incomplete after
 * `timeoutMs`, is a bad request.
 */
export async function readBody(request: Request, max: number, timeoutMs = BODY_READ_TIMEOUT_MS): Promise<string> {
  const len = request.headers.get("Content-Length");
  if (len !== null && Number(len) > max) throw new HttpError(413, "body_too_large");
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let fire: (v: "late") => void = () => {};
  const late = new Promise<"late">((resolve) => (fire = resolve));
  const timer = setTimeout(() => fire("late"), timeoutMs);
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late") {
        reader.cancel().catch(() => {});
        throw new HttpError(400, "bad_request");
      }
      const { done, value } = next;
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, "body_too_large");
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(all);
  } catch {
    throw new HttpError(400, "bad_request");
  }
}

/**
 * The members of a service route's body: exactly one JSON object, read by the tokens' strict
 * reader, whose keys are all in `allowed` (exact, case included). Anything else is 400 bad_request.
 */
export function parseBodyMembers(text: string, allowed: readonly string[]): Map<string, Value> {
  let members;
  try {
    members = parseTopObject(text);
  } catch (e) {
    if (e instanceof JSONError) throw new HttpError(400, "bad_request");
    throw e;
  }
  for (const k of members.keys()) if (!allowed.includes(k)) throw new HttpError(400, "bad_request");
  return members;
}

/**
 * The publish body contract (docs/protocol.md): a JSON object with exactly the keys `data`
 * (required, any JSON value) and optionally `to` (a user id string), read by the tokens' strict
 * reader (the twin of verifier/publish.go). Anything else, case variants, duplicates at any depth
 * and `"to": null` included, is 400 bad_request and reaches no one.
 */
export function parsePublishBody(text: string): { to: string | null; data: string } {
  const members = parseBodyMembers(text, ["data", "to"]);
  const data = members.get("data");
  if (!data) throw new HttpError(400, "bad_request");
  const to = members.get("to");
  if (to && (to.kind !== "string" || !isValidId(to.str!))) throw new HttpError(400, "bad_request");
  return { to: to ? to.str! : null, data: data.raw! };
}
