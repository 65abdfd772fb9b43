// Structured logs of the edge and the Durable Object (Workers Logs indexes the fields).

/** One structured log line. Never pass a token, key or secret here. */
export function logEvent(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}
