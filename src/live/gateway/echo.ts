import type { RoleWrite } from '../../sync/guild-context.js'

/*
 * Our own writes come back as GUILD_MEMBER_UPDATE. Counting them as drift would make the plugin
 * fight itself (and report drift it caused), so each write is noted just before it is sent with
 * the role list it leaves, and the first update showing exactly that list is recognised as its
 * echo. Only the roles the plugin manages are compared: a moderator adding an unmanaged role at
 * the same moment must not turn our echo into "drift". An expectation Discord never answers
 * (the write failed, the socket was down) lapses after `ttlMs`.
 */

const DEFAULT_TTL_MS = 60_000
/** Writes remembered at most, so a flood of writes with no Gateway attached cannot grow memory. */
const MAX_ENTRIES = 50_000
/**
 * Lapsed expectations are dropped every this many writes: echoes never come for an instance that
 * does not hold the Gateway connection (or a write Discord refused), and waiting for MAX_ENTRIES
 * kept ~10 MB of them on a quiet server (issue 18's soak: +1.2 MB/h until then).
 */
const PRUNE_EVERY = 256

interface Expected {
  roles: Set<string>
  at: number
}

export class EchoFilter {
  readonly #expected = new Map<string, Expected[]>()
  readonly #ttlMs: number
  readonly #now: () => number
  #size = 0
  #writes = 0

  constructor (options: { ttlMs?: number, now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS
    this.#now = options.now ?? Date.now
  }

  /** The sync engine's write observer: a write to `discord_user_id` in `guild_id` is about to be sent. */
  readonly expect = (write: RoleWrite): void => {
    if (this.#size >= MAX_ENTRIES) this.#prune(true)
    else if (++this.#writes % PRUNE_EVERY === 0) this.#prune(false)
    const key = `${write.guild_id}:${write.discord_user_id}`
    const list = this.#expected.get(key) ?? []
    list.push({ roles: new Set(write.role_ids), at: this.#now() })
    this.#expected.set(key, list)
    this.#size++
  }

  /**
   * True (and the expectation consumed) when `roles` is what one of our pending writes to this
   * member leaves, compared on the managed roles only.
   */
  consume (guildId: string, discordUserId: string, roles: readonly string[], managed: ReadonlySet<string>): boolean {
    const key = `${guildId}:${discordUserId}`
    const list = this.#expected.get(key)
    if (list === undefined) return false
    const now = this.#now()
    const seen = new Set(roles.filter((r) => managed.has(r)))
    const i = list.findIndex((e) => now - e.at < this.#ttlMs && sameManaged(e.roles, seen, managed))
    if (i === -1) return false
    // Earlier expectations of the same member were overtaken by this one: their echoes are past.
    this.#size -= i + 1
    list.splice(0, i + 1)
    if (list.length === 0) this.#expected.delete(key)
    return true
  }

  /** Whether a write to this member is still awaiting its echo. */
  pending (guildId: string, discordUserId: string): boolean {
    const list = this.#expected.get(`${guildId}:${discordUserId}`)
    return list !== undefined && list.some((e) => this.#now() - e.at < this.#ttlMs)
  }

  /** Writes awaiting their echo (lapsed ones included until the next prune). */
  get size (): number {
    return this.#size
  }

  forget (guildId: string, discordUserId: string): void {
    const key = `${guildId}:${discordUserId}`
    this.#size -= this.#expected.get(key)?.length ?? 0
    this.#expected.delete(key)
  }

  #prune (hard: boolean): void {
    const now = this.#now()
    for (const [key, list] of this.#expected) {
      const kept = list.filter((e) => now - e.at < this.#ttlMs)
      this.#size -= list.length - kept.length
      if (kept.length === 0) this.#expected.delete(key)
      else this.#expected.set(key, kept)
    }
    // Still full of live entries: the oldest members' expectations go first.
    if (hard) {
      for (const key of this.#expected.keys()) {
        if (this.#size < MAX_ENTRIES / 2) break
        this.forget(...(key.split(':') as [string, string]))
      }
    }
  }
}

function sameManaged (expected: ReadonlySet<string>, seen: ReadonlySet<string>, managed: ReadonlySet<string>): boolean {
  let count = 0
  for (const r of expected) {
    if (!managed.has(r)) continue
    if (!seen.has(r)) return false
    count++
  }
  return count === seen.size
}
