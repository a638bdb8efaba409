import type { ClaimLeaseOptions, LeaseRecord, LeaseStore } from '../port/index.js'
import { StoreConflictError } from '../../errors.js'
import type { MongoContext } from './context.js'

/**
 * Named expiring claims (the leases collection, `_id` = the name). A claim inserts the lease;
 * when one exists it is taken over only by a conditional update, so of two instances racing
 * for the same name exactly one matches.
 */
export class MongoLeases implements LeaseStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  async claimLease (name: string, owner: string, ttlMs: number, opts: ClaimLeaseOptions = {}): Promise<boolean> {
    const now = opts.now ?? new Date()
    const expires_at = new Date(now.getTime() + ttlMs)
    try {
      await this.#ctx.run('claimLease', 'lease', async () => { await this.#ctx.c.leases.insertOne({ _id: name, owner, expires_at }) })
      return true
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err
    }
    const holders: Array<Record<string, unknown>> = [{ expires_at: { $lte: now } }, { owner }]
    if (opts.replacing !== undefined) holders.push({ owner: opts.replacing })
    return this.#ctx.run('claimLease', 'lease', async () => {
      const res = await this.#ctx.c.leases.updateOne({ _id: name, $or: holders }, { $set: { owner, expires_at } })
      return res.matchedCount === 1
    })
  }

  async releaseLease (name: string, owner: string): Promise<boolean> {
    return this.#ctx.run('releaseLease', 'lease', async () => (await this.#ctx.c.leases.deleteOne({ _id: name, owner })).deletedCount === 1)
  }

  async getLease (name: string): Promise<LeaseRecord | null> {
    return this.#ctx.run('getLease', 'lease', async () => {
      const doc = await this.#ctx.c.leases.findOne({ _id: name, expires_at: { $gt: new Date() } })
      return doc === null ? null : { name: doc._id, owner: doc.owner, expires_at: doc.expires_at }
    })
  }
}
