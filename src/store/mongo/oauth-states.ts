import { randomUUID } from 'node:crypto'
import type { ConsumeOAuthStateResult, CreateOAuthStateInput, OAuthStateRecord, OAuthStateStore } from '../port/index.js'
import { newOAuthStateFields } from '../records.js'
import type { MongoContext } from './context.js'
import { toOAuthStateRecord, type OAuthStateDoc } from './documents.js'

/** Single-use OAuth states (the oauth_states collection; a TTL index purges expired ones). */
export class MongoOAuthStates implements OAuthStateStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  async createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> {
    return this.#ctx.run('createOAuthState', 'OAuth state', async () => {
      const doc: OAuthStateDoc = {
        _id: randomUUID(),
        ...newOAuthStateFields(input),
        created_at: new Date()
      }
      await this.#ctx.c.oauthStates.insertOne(doc)
      return toOAuthStateRecord(doc)
    })
  }

  async consumeOAuthState (state: string, now: Date = new Date()): Promise<ConsumeOAuthStateResult> {
    return this.#ctx.run('consumeOAuthState', 'OAuth state', async () => {
      // One conditional write decides the winner: the server applies it to one document
      // atomically, so of any number of concurrent consumers exactly one matches used:false.
      // expires_at is checked here because the TTL monitor only purges periodically.
      const doc = await this.#ctx.c.oauthStates.findOneAndUpdate(
        { state, used: false, expires_at: { $gt: now } },
        { $set: { used: true } },
        { returnDocument: 'after' }
      )
      if (doc) return { ok: true, record: toOAuthStateRecord(doc) }
      const seen = await this.#ctx.c.oauthStates.findOne({ state }, { projection: { used: 1, expires_at: 1, redirect_url: 1 } })
      if (!seen) return { ok: false, reason: 'not_found' }
      const redirect_url = seen.redirect_url ?? null
      if (seen.used === true) return { ok: false, reason: 'used', redirect_url }
      if (seen.expires_at.getTime() <= now.getTime()) return { ok: false, reason: 'expired', redirect_url }
      // Created between our two reads: it was not there when we tried to consume it.
      return { ok: false, reason: 'not_found' }
    })
  }

  async purgeExpiredOAuthStates (now: Date = new Date()): Promise<number> {
    return this.#ctx.run('purgeExpiredOAuthStates', 'OAuth state', async () => {
      // <= matches consumeOAuthState, which treats expires_at == now as expired.
      // A used state can never be consumed again: it goes too.
      const res = await this.#ctx.c.oauthStates.deleteMany({ $or: [{ expires_at: { $lte: now } }, { used: true }] })
      return res.deletedCount
    })
  }
}
