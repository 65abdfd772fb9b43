// The org's used-jti store: the replay boundary for handshake and publish tokens alike
// (single-use, docs/protocol.md). Rows live in the Durable Object's SQLite, so a replay is refused
// even after the object was evicted; values are always bound, never interpolated.

/** Why the store refused a token: used before, or already past its replay window. */
export type JtiRefusal = "replayed" | "expired";

/** Rows read and written by the SQL of one connect or publish (billed per row). */
export interface RowCounts {
  read: number;
  written: number;
}

/** Expired used_jti rows are collected at most this often. */
export const JTI_GC_INTERVAL_MS = 30_000;

export class JtiStore {
  private lastGc = 0;

  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS used_jti (jti TEXT PRIMARY KEY, until INTEGER NOT NULL)");
    // Garbage collection reads only expired rows.
    sql.exec("CREATE INDEX IF NOT EXISTS used_jti_until ON used_jti (until)");
  }

  /**
   * Records a jti as used until `until` (Unix s), at `now` (Unix s). One statement decides: a jti
   * whose window has passed is refused outright (the token is dead, so the garbage collector may
   * already have dropped its row), and an existing row, expired or not, is a replay.
   */
  use(jti: string, until: number, now: number, rows: RowCounts = { read: 0, written: 0 }): JtiRefusal | undefined {
    if (until <= now) return "expired";
    const c = this.sql.exec("INSERT INTO used_jti (jti, until) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING", jti, until);
    c.toArray();
    rows.read += c.rowsRead;
    rows.written += c.rowsWritten;
    if (c.rowsWritten === 0) return "replayed";
    if (now * 1000 - this.lastGc >= JTI_GC_INTERVAL_MS) this.collect(now, rows);
    return undefined;
  }

  /** Drops rows whose window has passed at `now` (Unix s): use() refuses those tokens before looking. */
  collect(now: number, rows: RowCounts = { read: 0, written: 0 }): void {
    this.lastGc = now * 1000;
    const c = this.sql.exec("DELETE FROM used_jti WHERE until <= ?", now);
    c.toArray();
    rows.read += c.rowsRead;
    rows.written += c.rowsWritten;
  }

  /** Read-only replay check at `now` (Unix s): true when the jti is in use. */
  used(jti: string, now: number): boolean {
    return this.sql.exec("SELECT 1 FROM used_jti WHERE jti = ? AND until > ?", jti, now).toArray().length > 0;
  }
}
