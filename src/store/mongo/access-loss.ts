import type { AccessLossStore } from '../port/index.js'
import type { MongoContext } from './context.js'

/**
 * When each member was first seen without access (the access_loss collection, one document per
 * guild and member). `lost_since` is written only on insert ($setOnInsert), so a member already
 * recorded keeps its first time whatever instance marks it again (`_id` is `guild:member`).
 */
export class MongoAccessLoss implements AccessLossStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  async markAccessLost (guildId: string, discordUserIds: readonly string[], now: Date): Promise<Map<string, Date>> {
    const ids = [...new Set(discordUserIds)]
    const out = new Map<string, Date>()
    if (ids.length === 0) return out
    return this.#ctx.run('markAccessLost', 'access loss', async () => {
      const c = this.#ctx.c.accessLoss
      await c.updateMany({ guild_id: guildId, discord_user_id: { $in: ids } }, { $set: { seen_at: now } })
      const known = new Set<string>()
      for (const doc of await c.find({ guild_id: guildId, discord_user_id: { $in: ids } }).toArray()) known.add(doc.discord_user_id)
      for (const id of ids) {
        if (known.has(id)) continue
        try {
          // The _id is the pair: of two instances inserting the same member, one wins and the other keeps its time.
          await c.insertOne({ _id: `${guildId}:${id}`, guild_id: guildId, discord_user_id: id, lost_since: now, seen_at: now })
        } catch (err) {
          if ((err as { code?: unknown }).code !== 11000) throw err
        }
      }
      for (const doc of await c.find({ guild_id: guildId, discord_user_id: { $in: ids } }).toArray()) out.set(doc.discord_user_id, doc.lost_since)
      return out
    })
  }

  async listAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<Map<string, Date>> {
    const ids = [...new Set(discordUserIds)]
    const out = new Map<string, Date>()
    if (ids.length === 0) return out
    return this.#ctx.run('listAccessLost', 'access loss', async () => {
      for (const doc of await this.#ctx.c.accessLoss.find({ guild_id: guildId, discord_user_id: { $in: ids } }).toArray()) out.set(doc.discord_user_id, doc.lost_since)
      return out
    })
  }

  async clearAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<void> {
    const ids = [...new Set(discordUserIds)]
    if (ids.length === 0) return
    await this.#ctx.run('clearAccessLost', 'access loss', async () => {
      await this.#ctx.c.accessLoss.deleteMany({ guild_id: guildId, discord_user_id: { $in: ids } })
    })
  }

  async sweepAccessLost (guildId: string, seenBefore: Date): Promise<number> {
    return this.#ctx.run('sweepAccessLost', 'access loss', async () =>
      (await this.#ctx.c.accessLoss.deleteMany({ guild_id: guildId, seen_at: { $lt: seenBefore } })).deletedCount)
  }
}
