/*
 * Grace for members who lost access (`access_lost_grace`, docs/sync.md "Access loss"). The time
 * a member was first seen without access is kept in the store (AccessLossStore), so the grace
 * holds across runs, restarts and instances. Per page of members: one store call marks those
 * without access (keeping the first time) and one clears those with access again, so a member
 * whose access comes back starts a fresh grace when it loses it again. A dry run only reads.
 * After a real full-list run, records of members not seen in it (they left) are swept.
 */
import type { DiscordStore } from '../store/port/index.js'
import type { GuildContext } from './guild-context.js'
import type { AccessState, MemberView } from './member-plan.js'
import type { UserContext } from './types.js'

export interface AccessEntry {
  m: MemberView
  user: UserContext | null
}

type Tracking = Required<Pick<DiscordStore, 'markAccessLost' | 'clearAccessLost' | 'sweepAccessLost' | 'listAccessLost'>>

function tracking (store: DiscordStore): Tracking | null {
  const s = store as Partial<Tracking>
  return typeof s.markAccessLost === 'function' && typeof s.clearAccessLost === 'function' &&
    typeof s.sweepAccessLost === 'function' && typeof s.listAccessLost === 'function'
    ? s as Tracking
    : null
}

/** Each member's access state, in `entries` order. */
export async function resolveAccess (g: GuildContext, entries: readonly AccessEntry[]): Promise<AccessState[]> {
  const policy = g.access
  if (!policy.tracked) return entries.map(() => 'ok')
  const lost = entries.map((e) => g.lostAccess(e.m, e.user))
  if (policy.graceMs === 0) return lost.map((l) => l ? 'act' : 'ok')
  const store = tracking(g.deps.store)
  if (store === null) {
    // Acting at once would break the promise of a grace; never acting is the safe side.
    if (lost.some((l) => l)) g.noGraceStore()
    return lost.map((l) => l ? 'grace' : 'ok')
  }
  const lostIds = entries.filter((_e, i) => lost[i]).map((e) => e.m.id)
  const keptIds = entries.filter((_e, i) => !lost[i]).map((e) => e.m.id)
  const now = g.run.now()
  let since: Map<string, Date>
  if (g.run.dryRun) {
    since = await store.listAccessLost(g.guildId, lostIds)
  } else {
    since = await store.markAccessLost(g.guildId, lostIds, now)
    await store.clearAccessLost(g.guildId, keptIds)
  }
  return entries.map((e, i) => {
    if (!lost[i]) return 'ok'
    const t = since.get(e.m.id)
    return t !== undefined && now.getTime() - t.getTime() >= policy.graceMs ? 'act' : 'grace'
  })
}

/** A kicked member's record goes with it: if it joins again, its grace starts afresh. */
export async function forgetAccessLoss (g: GuildContext, discordUserId: string): Promise<void> {
  const store = tracking(g.deps.store)
  await store?.clearAccessLost(g.guildId, [discordUserId]).catch(() => { /* swept later anyway */ })
}

/** After a real full-list run: members not seen since it started have left the guild. */
export async function sweepAccessLoss (g: GuildContext, startedAt: Date): Promise<void> {
  const store = tracking(g.deps.store)
  if (store === null || !g.access.tracked || g.access.graceMs === 0) return
  await store.sweepAccessLost(g.guildId, startedAt).catch((err: unknown) => {
    g.run.log.warn({ guild_id: g.guildId, code: (err as { code?: unknown }).code }, 'sweeping access-loss records failed')
  })
}
