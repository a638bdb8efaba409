import type { AccessLossStore } from '../port/index.js'
import type { SqliteContext } from './context.js'
import { chunks, inList } from './in-list.js'

/** When each member was first seen without access (discord_access_loss, migration 4). */
export class SqliteAccessLoss implements AccessLossStore {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  async markAccessLost (guildId: string, discordUserIds: readonly string[], now: Date): Promise<Map<string, Date>> {
    const ids = [...new Set(discordUserIds)]
    const out = new Map<string, Date>()
    if (ids.length === 0) return out
    const t = now.getTime()
    return this.#ctx.tx(() => {
      for (const id of ids) {
        // lost_since is only ever set by the insert: a member already recorded keeps its first time.
        this.#ctx.exec(`INSERT INTO discord_access_loss (guild_id, discord_user_id, lost_since, seen_at) VALUES (?, ?, ?, ?)
          ON CONFLICT (guild_id, discord_user_id) DO UPDATE SET seen_at = excluded.seen_at`, [guildId, id, t, t])
      }
      this.#read(guildId, ids, out)
      return out
    })
  }

  async listAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<Map<string, Date>> {
    const out = new Map<string, Date>()
    const ids = [...new Set(discordUserIds)]
    if (ids.length === 0) return out
    return this.#ctx.run(() => {
      this.#read(guildId, ids, out)
      return out
    })
  }

  #read (guildId: string, ids: readonly string[], out: Map<string, Date>): void {
    for (const part of chunks(ids)) {
      const { placeholders, values } = inList(part)
      const rows = this.#ctx.all<{ discord_user_id: string, lost_since: number }>(
        `SELECT discord_user_id, lost_since FROM discord_access_loss WHERE guild_id = ? AND discord_user_id IN (${placeholders})`, [guildId, ...values])
      for (const r of rows) out.set(r.discord_user_id, new Date(r.lost_since))
    }
  }

  async clearAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<void> {
    const ids = [...new Set(discordUserIds)]
    if (ids.length === 0) return
    this.#ctx.tx(() => {
      for (const part of chunks(ids)) {
        const { placeholders, values } = inList(part)
        this.#ctx.exec(`DELETE FROM discord_access_loss WHERE guild_id = ? AND discord_user_id IN (${placeholders})`, [guildId, ...values])
      }
    })
  }

  async sweepAccessLost (guildId: string, seenBefore: Date): Promise<number> {
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_access_loss WHERE guild_id = ? AND seen_at < ?', [guildId, seenBefore.getTime()]))
  }
}
