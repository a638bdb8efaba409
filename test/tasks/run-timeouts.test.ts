import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyBaseLogger } from 'fastify'
import { SqliteStore } from '../../src/store/sqlite/index.js'
import { SecretBox } from '../../src/store/crypto.js'
import { DiscordSyncEvents } from '../../src/events.js'
import { TokenRefreshTask } from '../../src/tasks/token-refresh.js'
import { GuildHealthTask } from '../../src/health/guild-health.js'
import type { TaskLock } from '../../src/tasks/lock.js'
import type { BotApi } from '../../src/guilds/bot-inspector.js'
import type { DiscordOAuth2Client } from '../../src/discord/index.js'
import { TEST_KEY } from '../helpers/world.js'

/*
 * Scheduled tasks are bounded in time (`tokenRefresh.runTimeout`, `healthCheck.runTimeout`):
 * a Discord call that never answers ends the run `failed` with the reason, and the run's lock
 * is released instead of being held until its TTL.
 */

const silentLog = { info () {}, warn () {}, error () {}, debug () {}, trace () {}, fatal () {}, child () { return silentLog }, level: 'silent' } as unknown as FastifyBaseLogger
const never = <T>(): Promise<T> => new Promise<T>(() => {})

/** A lock that records what happened to it. */
class RecordingLock implements TaskLock {
  acquired = 0
  released: string[] = []
  async acquire (): Promise<string | null> { this.acquired++; return `token-${this.acquired}` }
  async renew (): Promise<boolean> { return true }
  async release (token: string): Promise<void> { this.released.push(token) }
}

let store: SqliteStore
afterEach(async () => { await store?.close() })

async function openStore (): Promise<SqliteStore> {
  store = new SqliteStore({ path: ':memory:', secrets: new SecretBox([TEST_KEY]) })
  await store.init()
  return store
}

describe('tokenRefresh.runTimeout', () => {
  it('a refresh call that never answers ends the run failed with the reason, recorded, lock released', async () => {
    await openStore()
    await store.createUser({
      user_id: 'host-1',
      discord_user_id: '300000000000000001',
      username: 'u1',
      tokens: { access_token: 'a', refresh_token: 'r', expires_at: new Date(Date.now() + 60_000), scopes: ['identify'] }
    })
    const lock = new RecordingLock()
    const task = new TokenRefreshTask({
      store,
      oauth: { refreshToken: never } as unknown as DiscordOAuth2Client,
      thresholdMs: 86_400_000,
      batchSize: 10,
      concurrency: 1,
      lock,
      log: silentLog,
      events: new DiscordSyncEvents(silentLog),
      retentionMs: null,
      runTimeoutMs: 200
    })
    const run = await task.run()
    expect(run.status).toBe('failed')
    expect(run.reason).toMatch(/timed out after 200 ms \(tokenRefresh.runTimeout\)/)
    expect(lock.released).toEqual(['token-1'])
    const [recorded] = await store.listTaskRuns({ task: 'token_refresh' })
    expect(recorded).toMatchObject({ status: 'failed', reason: run.reason })
    expect(task.running).toBe(false)
  })
})

describe('healthCheck.runTimeout', () => {
  it('a check that never answers stops the pass, frees the lock, and keeps the stored status', async () => {
    await openStore()
    await store.createGuild({ guild_id: '1200000000000000001', guild_name: 'Alpha', bot_token: 'bot-token', health_status: 'healthy' })
    const lock = new RecordingLock()
    const hung = { getCurrentUser: never, getGuild: never, getGuildRoles: never, getGuildMember: never, getGuildChannels: never, createMessage: never } as unknown as BotApi
    const task = new GuildHealthTask({ store, bots: () => hung, lock, log: silentLog, runTimeoutMs: 200 })
    const pass = await task.run()
    expect(pass).toMatchObject({ ran: true, checked: 0, timed_out: true })
    expect(lock.released).toEqual(['token-1'])
    expect((await store.getGuild('1200000000000000001'))?.health_status).toBe('healthy')
    // The next pass is not joined to the hung one.
    const next = await task.run()
    expect(next.timed_out).toBe(true)
    expect(lock.acquired).toBe(2)
  })
})
