import { afterEach, describe, expect, it } from 'vitest'
import type { AccessLossStore, DiscordStore } from '../../src/store/port/index.js'
import { PermissionFlags } from '../../src/testing/index.js'
import { buildSyncWorld, HOST, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * on_access_lost and access_lost_grace against the simulator (docs/sync.md "Access loss"):
 * kick, none, remove_roles after a grace; kicks count toward the brake and are audited; a
 * provider error is never read as "no access"; the owner, members at or above the bot and other
 * bots are never kicked.
 */

let w: SyncWorld
const KICK_ROUTE = 'DELETE /guilds/:guild_id/members/:user_id'
const BOT_PERMS = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES | PermissionFlags.KICK_MEMBERS

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

/** Alice linked and entitled (pilots); Bob unlinked holding the Pilot role; Carol linked, in no group. */
async function world (settings: Record<string, unknown>): Promise<void> {
  w = await buildSyncWorld()
  w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS)
  await w.guild(IDS.g1, 'Alpha Guild', settings)
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.pilot])
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['pilots'])
  w.sim.state.addMember(IDS.g1, IDS.bob, [IDS.pilot, IDS.hand])
  w.sim.state.addMember(IDS.g1, IDS.carol, [IDS.pilot])
  await w.link(HOST.carol, IDS.carol)
  w.membership.set(HOST.carol, [])
}

async function sync (extra: Record<string, unknown> = {}): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true, ...extra } })
  expect(res.status).toBe(200)
  return res.body
}

const inGuild = (id: string): boolean => w.sim.state.getGuild(IDS.g1)!.members.has(id)
const kicks = (): string[] => w.sim.requests.filter((r) => r.route === KICK_ROUTE && r.status === 204).map((r) => r.path.split('/').at(-1) as string).sort()
const tracked = (): DiscordStore & AccessLossStore => w.store as DiscordStore & AccessLossStore

describe('on_access_lost: kick', () => {
  it('kicks unlinked and no-longer-entitled members, one DELETE each, audited; the entitled member stays', async () => {
    await world({ on_access_lost: 'kick' })
    const body = await sync()
    expect(body.run.status).toBe('completed')
    expect(kicks()).toEqual([IDS.bob, IDS.carol].sort())
    expect(w.discordCalls(isWrite)).toHaveLength(2)
    expect(inGuild(IDS.bob)).toBe(false)
    expect(inGuild(IDS.carol)).toBe(false)
    expect(inGuild(IDS.alice)).toBe(true)
    expect(inGuild(IDS.owner)).toBe(true)
    expect(w.sim.state.auditLog.filter((e) => e.action_type === 20).map((e) => e.reason)).toEqual([expect.stringMatching(/access lost/), expect.stringMatching(/access lost/)])
    expect(body.changes.map((c: any) => `${c.discord_user_id}:${c.action}:${c.outcome}`).sort()).toEqual([`${IDS.bob}:kick:applied`, `${IDS.carol}:kick:applied`].sort())
  })

  it('a provider error for a user is never read as "no groups": that member is skipped, not kicked', async () => {
    await world({ on_access_lost: 'kick' })
    w.membership.failing.add(HOST.carol)
    const body = await sync()
    expect(kicks()).toEqual([IDS.bob])
    expect(inGuild(IDS.carol)).toBe(true)
    expect(w.roles(IDS.g1, IDS.carol)).toEqual([IDS.pilot])
    expect(body.run.results.errors.some((e: any) => e.discord_user_id === IDS.carol && e.code === 'membership_unavailable')).toBe(true)
  })

  it('kicks count toward max_role_changes_per_sync: over it nothing is written and the held kicks are audited', async () => {
    await world({ on_access_lost: 'kick', max_role_changes_per_sync: 1 })
    const body = await sync()
    expect(body.run.status).toBe('blocked')
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(body.changes.filter((c: any) => c.action === 'kick').map((c: any) => `${c.outcome}:${c.error_code}`)).toEqual(['blocked:brake', 'blocked:brake'])
    const forced = await sync({ force: true })
    expect(forced.run.status).toBe('completed')
    expect(kicks()).toEqual([IDS.bob, IDS.carol].sort())
  })

  it('never kicks the owner or another bot (silently), nor a member at or above the bot (reported blocked); none attempted', async () => {
    await world({ on_access_lost: 'kick' })
    w.sim.state.setMemberRoles(IDS.g1, IDS.bob, [IDS.admins])
    w.sim.state.addBot({ token: 'MTEwMDAwMDAwMDAwMDAwMDAwOQ.Gother.another-bot-token-value-000', user: { id: '1100000000000000009', username: 'otherbot' } })
    w.sim.state.addMember(IDS.g1, '1100000000000000009')
    const body = await sync()
    expect(kicks()).toEqual([IDS.carol])
    expect(inGuild(IDS.owner) && inGuild(IDS.bob) && inGuild('1100000000000000009')).toBe(true)
    const blocked = body.changes.filter((c: any) => c.action === 'kick' && c.outcome === 'blocked').map((c: any) => `${c.discord_user_id}:${c.error_code}`).sort()
    expect(blocked).toEqual([`${IDS.bob}:blocked_hierarchy`])
    expect(w.sim.requests.filter((r) => r.status === 403)).toEqual([])
  })

  it('a dry run lists the kicks and writes nothing', async () => {
    await world({ on_access_lost: 'kick' })
    const body = await sync({ dry_run: true })
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(body.changes.filter((c: any) => c.action === 'kick').map((c: any) => c.outcome)).toEqual(['dry_run', 'dry_run'])
  })
})

describe('on_access_lost: none', () => {
  it('leaves members without access alone; entitled members still sync', async () => {
    await world({ on_access_lost: 'none' })
    w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [])
    await sync()
    expect(w.roles(IDS.g1, IDS.bob).sort()).toEqual([IDS.pilot, IDS.hand].sort())
    expect(w.roles(IDS.g1, IDS.carol)).toEqual([IDS.pilot])
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(w.discordCalls(isWrite)).toHaveLength(1)
  })
})

describe('access_lost_grace', () => {
  it('holds the action until the member has been without access for the grace; access back starts it afresh', async () => {
    await world({ on_access_lost: 'remove_roles', access_lost_grace: '1h' })
    await sync()
    // First seen without access now: the grace runs, nothing removed.
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(w.roles(IDS.g1, IDS.bob)).toContain(IDS.pilot)
    const since = await tracked().listAccessLost(IDS.g1, [IDS.bob, IDS.carol, IDS.alice])
    expect([...since.keys()].sort()).toEqual([IDS.bob, IDS.carol].sort())

    // Carol's access comes back: her record goes. Bob's clock is set back past the grace.
    w.membership.set(HOST.carol, ['pilots'])
    await tracked().clearAccessLost(IDS.g1, [IDS.bob])
    await tracked().markAccessLost(IDS.g1, [IDS.bob], new Date(Date.now() - 2 * 3_600_000))
    await sync()
    expect(w.roles(IDS.g1, IDS.bob)).toEqual([IDS.hand])
    expect(w.roles(IDS.g1, IDS.carol)).toEqual([IDS.pilot])
    expect((await tracked().listAccessLost(IDS.g1, [IDS.carol])).size).toBe(0)
    expect(w.discordCalls(isWrite)).toHaveLength(1)
  })

  it('kick after the grace; a kicked member\'s record is forgotten, and a member who left is swept', async () => {
    await world({ on_access_lost: 'kick', access_lost_grace: '30m' })
    await sync()
    expect(kicks()).toEqual([])
    await tracked().clearAccessLost(IDS.g1, [IDS.bob])
    await tracked().markAccessLost(IDS.g1, [IDS.bob], new Date(Date.now() - 3_600_000))
    w.sim.state.removeMember(IDS.g1, IDS.carol)
    await sync()
    expect(kicks()).toEqual([IDS.bob])
    expect((await tracked().listAccessLost(IDS.g1, [IDS.bob, IDS.carol])).size).toBe(0)
  })

  it('a dry run reads the clocks but starts none', async () => {
    await world({ on_access_lost: 'kick', access_lost_grace: '1h' })
    const body = await sync({ dry_run: true })
    expect(body.changes.filter((c: any) => c.action === 'kick')).toEqual([])
    expect((await tracked().listAccessLost(IDS.g1, [IDS.bob, IDS.carol])).size).toBe(0)
  })
})
