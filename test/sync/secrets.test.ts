import { afterEach, describe, expect, it } from 'vitest'
import { PermissionFlags } from '../../src/testing/index.js'
import { authorizeAs } from '../helpers/world.js'
import { BOT2_TOKEN, BOT_TOKEN, buildSyncWorld, HOST, IDS, OAUTH_APP, until, type SyncWorld } from './helpers.js'

/*
 * Bot tokens never leave the store's sealed column: not in a sync response, a run record, an
 * audit entry, a metric, a log line (at trace level, including failures), an audit-channel
 * message or a header sent to Discord other than Authorization.
 */

let w: SyncWorld
afterEach(async () => { await w.close() })

describe('secrets stay secret through syncs', () => {
  it('no bot token in responses, records, audit, metrics, logs or messages, even when Discord refuses', async () => {
    const lines: string[] = []
    w = await buildSyncWorld({ logLines: lines })
    await w.guild(IDS.g1, 'Alpha Guild', { audit_channel_id: IDS.channel })
    await w.guild(IDS.g2, 'Beta Guild', {}, BOT2_TOKEN)
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    for (const [host, id] of [[HOST.alice, IDS.alice], [HOST.bob, IDS.bob]] as const) {
      w.sim.state.addMember(IDS.g1, id)
      w.sim.state.addMember(IDS.g2, id)
      await w.link(host, id, [IDS.g1, IDS.g2])
      w.membership.set(host, ['pilots'])
    }
    w.membership.failing.add(HOST.bob)
    const bodies: string[] = []
    const call = async (...args: Parameters<SyncWorld['call']>): Promise<void> => { bodies.push((await w.call(...args)).text) }

    await call('POST', '/sync/manual', { body: { dry_run: true, wait: true } })
    // Guild 1 loses Manage Roles after the cache filled; guild 2's token is revoked.
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, PermissionFlags.VIEW_CHANNEL)
    w.sim.state.revokeBotToken(BOT2_TOKEN)
    await call('POST', '/sync/manual', { body: { wait: true } })
    await call('POST', `/sync/user/${HOST.alice}`)
    await call('GET', '/sync/status')
    await call('GET', '/sync/runs?limit=100')
    await call('GET', '/sync/audit?page_size=100')
    await call('GET', '/metrics')

    const runs = await w.store.listSyncRuns({ limit: 100 })
    expect(runs.some((r) => r.results.errors.some((e) => e.code === '50013'))).toBe(true)
    const haystack = [
      ...bodies,
      ...lines,
      JSON.stringify(runs),
      JSON.stringify(await w.store.listAudit({ page_size: 100 })),
      JSON.stringify(w.sim.state.messages),
      JSON.stringify(w.sim.requests.map((r) => ({ ...r, tokenId: null })))
    ].join('\n')
    for (const secret of [BOT_TOKEN, BOT2_TOKEN, 'postgres://']) expect(haystack).not.toContain(secret)
    // The engine's own log lines carry the component name operators filter on.
    expect(lines.some((l) => l.includes('"component":"discord_sync"'))).toBe(true)
  })

  it('OAuth, bot and sync lines each carry their component, and none carries a token', async () => {
    const lines: string[] = []
    w = await buildSyncWorld({ oauth: true, logLines: lines })
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.guild(IDS.g2, 'Beta Guild', {}, BOT2_TOKEN)
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    w.sim.state.addMember(IDS.g1, IDS.alice)
    w.sim.state.addMember(IDS.g2, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    w.sim.state.revokeBotToken(BOT2_TOKEN)

    const alice = { id: HOST.alice, permissions: [] }
    const started = await w.call('POST', '/auth/link', { as: alice, body: {} })
    const { code, state } = await authorizeAs(w.sim, started.body.auth_url, IDS.alice)
    expect((await w.call('POST', '/auth/link', { as: alice, body: { code, state } })).status).toBe(200)
    // The sync on link runs in the background; guild 2's revoked token is refused there.
    await until(async () => (await w.store.listSyncRuns({ sync_type: 'user', status: 'completed' }))[0])
    const tokens = await w.store.getUserTokens(IDS.alice)

    const componentOf = (message: string): unknown => {
      const line = lines.find((l) => l.includes(message))
      return line === undefined ? undefined : JSON.parse(line).component
    }
    expect(componentOf('discord account linked')).toBe('discord_oauth')
    expect(componentOf('Discord rejected a bot token (401)')).toBe('discord_bot')
    expect(componentOf('guild sync halted')).toBe('discord_sync')
    const all = lines.join('\n')
    for (const secret of [BOT_TOKEN, BOT2_TOKEN, OAUTH_APP.clientSecret, tokens?.access_token, tokens?.refresh_token, code]) {
      expect(typeof secret === 'string' && secret.length > 0).toBe(true)
      expect(all).not.toContain(secret)
    }
  })
})
