import { afterEach, describe, expect, it } from 'vitest'
import { aliceNeedsPilot, BOT_TOKEN, buildSyncWorld, IDS, type SyncWorld } from './helpers.js'

/*
 * A bot token Discord refused (401) is locked so no more invalid requests go out with it. The
 * operator's way back is to save the token again: that re-checks it against Discord and clears
 * the lock, and the next sync works without a restart; a successful sync (or check) marks the
 * guild healthy at once.
 */

let w: SyncWorld
afterEach(async () => { await w?.close() })

async function sync (): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
  expect(res.status).toBe(200)
  return res.body.run
}

describe('recoverable bot tokens', () => {
  it('401 → token re-saved → sync works without restart, and the guild is healthy again', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld())
    w.sim.state.revokeBotToken(BOT_TOKEN)
    const refused = await sync()
    expect(refused.status).toBe('failed')
    expect(w.app.discord.client.isTokenLocked(BOT_TOKEN)).toBe(true)
    expect((await w.store.getGuild(IDS.g1))?.health_status).toBe('unhealthy')

    // The operator fixes the bot in Discord (here: the simulator knows the token again) and saves it unchanged.
    w.sim.state.addBot({ token: BOT_TOKEN, user: { id: IDS.bot, username: 'syncbot' } })
    w.sim.clearRequests()
    const saved = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { bot_token: BOT_TOKEN } })
    expect(saved.status).toBe(200)
    // Proven against Discord, not refused from the lock.
    expect(w.discordCalls((r) => r.route === 'GET /users/@me').length).toBeGreaterThan(0)
    expect(w.app.discord.client.isTokenLocked(BOT_TOKEN)).toBe(false)
    expect(saved.body).toMatchObject({ health_status: 'healthy', last_error: null })

    const run = await sync()
    expect(run.status).toBe('completed')
    expect(run.results.roles_added).toBe(1)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
  })

  it('re-saving a token Discord still refuses re-checks it once and answers 422', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld())
    w.sim.state.revokeBotToken(BOT_TOKEN)
    await sync()
    w.sim.clearRequests()
    const saved = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { bot_token: BOT_TOKEN } })
    expect(saved.status).toBe(422)
    expect(w.discordCalls((r) => r.status === 401)).toHaveLength(1)
    expect(w.app.discord.client.isTokenLocked(BOT_TOKEN)).toBe(true)
  })

  it('a successful sync marks an unhealthy guild healthy at once; a dry run does not', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld())
    await w.store.updateGuild(IDS.g1, { health_status: 'unhealthy', last_error: 'an old 401' })
    const dry = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, dry_run: true, wait: true } })
    expect(dry.body.run.status).toBe('completed')
    expect((await w.store.getGuild(IDS.g1))?.health_status).toBe('unhealthy')
    expect((await sync()).status).toBe('completed')
    const guild = await w.store.getGuild(IDS.g1)
    expect(guild).toMatchObject({ health_status: 'healthy', last_error: null })
    const status = await w.call('GET', '/status')
    expect(JSON.stringify(status.body)).not.toMatch(/unhealthy/)
  })

  it('a successful health check marks the guild healthy at once', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld())
    await w.store.updateGuild(IDS.g1, { health_status: 'unhealthy', last_error: 'an old 401' })
    const res = await w.call('POST', `/guilds/${IDS.g1}/health-check`)
    expect(res.status).toBe(200)
    expect(await w.store.getGuild(IDS.g1)).toMatchObject({ health_status: 'healthy', last_error: null })
  })
})
