import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createStore } from '../../src/store/index.js'
import { resolveOptions } from '../../src/options/resolve.js'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { BOT_TOKEN, IDS, seedSimulator } from '../sync/helpers.js'

/*
 * Two host processes share a SQLite file and Redis: exactly one holds the Gateway connection.
 * The leader is SIGKILLed (no shutdown, its lock left to lapse): the other takes the connection
 * over within 30 s (here the leader lock lives 3 s) and acts on the next join.
 */

const HOST = fileURLToPath(new URL('./fixtures/gateway-host.ts', import.meta.url))
const hasRedis = await redisAvailable()

interface Message { name: string, type: string, status?: string, initiated_by?: string }

class Host {
  readonly child: ChildProcess
  readonly messages: Message[] = []
  readonly #waiters: Array<{ accept: (m: Message) => boolean, resolve: (m: Message) => void }> = []

  constructor (name: string, env: Record<string, string>) {
    this.child = fork(HOST, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env, NAME: name }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.child.on('message', (m: Message) => {
      this.messages.push(m)
      for (const w of [...this.#waiters]) {
        if (!w.accept(m)) continue
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        w.resolve(m)
      }
    })
  }

  /** The first message (already received or to come) that `accept` takes. */
  next (accept: (m: Message) => boolean): Promise<Message> {
    const seen = this.messages.find(accept)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => this.#waiters.push({ accept, resolve }))
  }

  async kill (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGKILL')
    await exited
  }
}

const hosts: Host[] = []
let sim: DiscordSimulator | undefined
let dir: string | undefined
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.kill()
  await sim?.close()
  sim = undefined
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!hasRedis)('Gateway leadership across processes (Redis)', () => {
  it('one connection at a time; a SIGKILLed leader is replaced within 30 s and the next join is handled', async () => {
    sim = await createDiscordSimulator({ rateLimits: { enabled: false }, gateway: { heartbeatIntervalMs: 1000 } })
    seedSimulator(sim)
    dir = mkdtempSync(join(tmpdir(), 'gateway-leader-'))
    const dbPath = join(dir, 'store.sqlite')
    const store = await createStore(resolveOptions({ store: { type: 'sqlite', path: dbPath }, encryptionKey: Buffer.alloc(32, 7).toString('base64') }))
    await store.createGuild({ guild_id: IDS.g1, guild_name: 'Alpha Guild', bot_token: BOT_TOKEN, bot_user_id: IDS.bot })
    await store.createMapping({ guild_id: IDS.g1, group_id: 'pilots', discord_role_id: IDS.pilot })
    for (const id of [IDS.alice, IDS.bob]) await store.createUser({ user_id: `user-${id}`, discord_user_id: id, username: `u${id.slice(-4)}`, guilds: [] })
    await store.close()

    const env = { SIM_API: sim.apiBaseUrl, DB_PATH: dbPath, REDIS_URL, PREFIX: uniquePrefix('gateway-leader') }
    const a = new Host('a', env)
    hosts.push(a)
    await a.next((m) => m.type === 'gateway' && m.status === 'connected')
    const b = new Host('b', env)
    hosts.push(b)
    await b.next((m) => m.type === 'ready')
    // The follower holds nothing: one Gateway session is all the simulator sees.
    expect(sim.gateway.sessions().filter((s) => s.connected)).toHaveLength(1)

    a.messages.length = 0
    const aliceJoin = a.next((m) => m.type === 'run' && m.initiated_by === `join:${IDS.alice}`)
    sim.state.addMember(IDS.g1, IDS.alice)
    expect(await aliceJoin).toMatchObject({ status: 'completed' })
    expect(sim.state.getMember(IDS.g1, IDS.alice)?.roles).toContain(IDS.pilot)

    const killedAt = Date.now()
    await a.kill()
    await b.next((m) => m.type === 'gateway' && m.status === 'connected')
    const takeoverMs = Date.now() - killedAt
    console.log(`gateway takeover after SIGKILL: ${takeoverMs} ms`)
    expect(takeoverMs).toBeLessThan(30_000)

    const bobJoin = b.next((m) => m.type === 'run' && m.initiated_by === `join:${IDS.bob}`)
    sim.state.addMember(IDS.g1, IDS.bob)
    expect(await bobJoin).toMatchObject({ status: 'completed' })
    expect(sim.state.getMember(IDS.g1, IDS.bob)?.roles).toContain(IDS.pilot)
    expect(b.messages.filter((m) => m.type === 'run' && m.initiated_by === `join:${IDS.alice}`)).toHaveLength(0)
  }, 60_000)
})
