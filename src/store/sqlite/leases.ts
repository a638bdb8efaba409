import type { ClaimLeaseOptions, LeaseRecord, LeaseStore } from '../port/index.js'
import type { SqliteContext } from './context.js'

interface LeaseRow { name: string, owner: string, expires_at: number }

/** Named expiring claims (discord_leases): one upsert decides each claim under SQLite's write lock. */
export class SqliteLeases implements LeaseStore {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  async claimLease (name: string, owner: string, ttlMs: number, opts: ClaimLeaseOptions = {}): Promise<boolean> {
    const now = opts.now?.getTime() ?? Date.now()
    return this.#ctx.run(() => this.#ctx.exec(`INSERT INTO discord_leases (name, owner, expires_at) VALUES (@name, @owner, @expires)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE discord_leases.expires_at <= @now OR discord_leases.owner = excluded.owner OR discord_leases.owner = @replacing`, {
      name, owner, expires: now + ttlMs, now, replacing: opts.replacing ?? null
    }) > 0)
  }

  async releaseLease (name: string, owner: string): Promise<boolean> {
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_leases WHERE name = ? AND owner = ?', [name, owner]) > 0)
  }

  async getLease (name: string): Promise<LeaseRecord | null> {
    return this.#ctx.run(() => {
      const row = this.#ctx.get<LeaseRow>('SELECT name, owner, expires_at FROM discord_leases WHERE name = ? AND expires_at > ?', [name, Date.now()])
      return row === undefined ? null : { name: row.name, owner: row.owner, expires_at: new Date(row.expires_at) }
    })
  }
}
