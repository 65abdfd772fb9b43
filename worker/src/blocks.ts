// The org's blocked users: POST /orgs/{org}/disconnect with blockSeconds > 0 refuses the user's
// new handshakes in this org with 403 revoked until the block expires (docs/security.md). Rows
// live in the Durable Object's SQLite, so a block outlives hibernation and eviction; a token
// minted just before the disconnect call is what it stops, so it must not live only in memory.
// Values are always bound, never interpolated.

export class BlockStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS blocked_user (user_id TEXT PRIMARY KEY, until_ms INTEGER NOT NULL)");
  }

  /**
   * Blocks `userId` until `untilMs` (Unix ms), or longer if an existing block already says so: a
   * block is never shortened by a later call. Expired rows are dropped on the way.
   */
  block(userId: string, untilMs: number, nowMs: number): void {
    this.collect(nowMs);
    this.sql.exec(
      "INSERT INTO blocked_user (user_id, until_ms) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET until_ms = max(until_ms, excluded.until_ms)",
      userId,
      untilMs,
    );
  }

  /** True while `userId` is blocked at `nowMs` (Unix ms). Read-only: the pre-flight uses it too. */
  blocked(userId: string, nowMs: number): boolean {
    return this.sql.exec("SELECT 1 FROM blocked_user WHERE user_id = ? AND until_ms > ?", userId, nowMs).toArray().length > 0;
  }

  /** Unix ms a block of `userId` lasts until, or undefined (tests and the docs' bounds). */
  until(userId: string): number | undefined {
    const rows = this.sql.exec<{ until_ms: number }>("SELECT until_ms FROM blocked_user WHERE user_id = ?", userId).toArray();
    return rows.length > 0 ? rows[0].until_ms : undefined;
  }

  /** Drops blocks that ended at `nowMs`. */
  collect(nowMs: number): void {
    this.sql.exec("DELETE FROM blocked_user WHERE until_ms <= ?", nowMs).toArray();
  }
}
