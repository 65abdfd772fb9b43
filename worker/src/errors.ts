// The Worker's one error type and the one place any error becomes a status and a reason code
// (docs/reason-codes.md). Kept out of index.ts: a Worker's main module may export handlers only.
import { TokenError } from "./verify";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code);
  }
}

/** Seconds a client should wait after 503 unavailable. */
export const RETRY_AFTER_SECONDS = 1;

/** A Durable Object stub error the platform marks as worth retrying (overloaded, or reset). */
function transient(e: unknown): boolean {
  const f = e as { overloaded?: unknown; retryable?: unknown } | null;
  return typeof f === "object" && f !== null && (f.overloaded === true || f.retryable === true);
}

/** The one place errors become responses: token reasons are 401, everything else carries its own status. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof TokenError) return new HttpError(401, e.reason);
  if (e instanceof HttpError) return e;
  if (transient(e)) return new HttpError(503, "unavailable", { "Retry-After": String(RETRY_AFTER_SECONDS) });
  console.error("office-router: internal error:", e instanceof Error ? e.message : String(e));
  return new HttpError(500, "internal");
}
