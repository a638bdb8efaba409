/*
 * The soak's Discord (bench/soak.ts starts it with fork()): the simulator in a process of its own,
 * so the host's heap is the plugin's alone and the simulator's memory is sampled, and judged,
 * separately. It plays the browser at Discord's consent page too (authorize), so the host process
 * holds nothing of the OAuth flow but what the plugin holds.
 *
 * Parent → child messages: { id, type: 'authorize', authUrl, userId } | { id, type: 'sample' } | { type: 'close' }.
 * Child → parent: { type: 'ready', url, apiBaseUrl, publicKey? } once, then { id, ok, ... } per request.
 */
import { readdirSync } from 'node:fs'
import { authorizeAs, generousLimits } from '../test/helpers/world.js'
import { createDiscordSimulator, PermissionFlags, type SimulatorOptions } from '../src/testing/index.js'

/** What the parent passes as argv[2] (JSON). */
export interface SoakSimConfig {
  sim: SimulatorOptions
  oauth: { clientId: string, clientSecret: string, redirectUri: string }
  ids: { botToken: string, bot: string, owner: string, guild: string, botRole: string, pilot: string, corp: string }
  members: string[]
}

/** One sample of the simulator process (heap after a forced GC). */
export interface SoakSimSample { rss: number, heap: number, fds: number, requests: number }

const config = JSON.parse(process.argv[2] ?? '{}') as SoakSimConfig
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined || process.send === undefined) {
  console.error('bench/soak-sim.ts is started by bench/soak.ts (fork, --expose-gc)')
  process.exit(2)
}
const send = process.send.bind(process)

// Generous limits, as the test world's default: the soak is about memory, not pacing.
const sim = await createDiscordSimulator({ ...generousLimits(), ...config.sim })
const { ids, oauth } = config
const s = sim.state
s.addOAuthApp({ client_id: oauth.clientId, client_secret: oauth.clientSecret, redirect_uris: [oauth.redirectUri], name: 'Falcon' })
s.addBot({ token: ids.botToken, user: { id: ids.bot, username: 'soakbot' } })
s.addUser({ id: ids.owner, username: 'owner' })
s.addGuild({ id: ids.guild, name: 'Soak Guild', owner_id: ids.owner })
s.addRole(ids.guild, { id: ids.botRole, name: 'soakbot', position: 10, permissions: PermissionFlags.MANAGE_ROLES })
s.addRole(ids.guild, { id: ids.pilot, name: 'Pilot', position: 5 })
s.addRole(ids.guild, { id: ids.corp, name: 'Corp', position: 4 })
s.addMember(ids.guild, ids.bot, [ids.botRole])
s.addUsers(config.members)
s.addMembers(ids.guild, config.members.map((userId) => ({ userId, roleIds: [] })))

// The consent page approves as one user at a time (setAutoApprove): flows are serialised so two
// logins in flight never approve as each other.
let queue: Promise<unknown> = Promise.resolve()

process.on('message', (raw) => {
  const msg = raw as { id?: number, type: string, authUrl?: string, userId?: string }
  if (msg.type === 'close') {
    sim.close().then(() => process.exit(0), () => process.exit(1))
    return
  }
  if (msg.type === 'sample') {
    gc()
    const m = process.memoryUsage()
    const sample: SoakSimSample = { rss: m.rss, heap: m.heapUsed, fds: readdirSync('/proc/self/fd').length, requests: sim.requests.length }
    send({ id: msg.id, ok: true, sample })
    return
  }
  if (msg.type === 'authorize') {
    const run = queue.then(async () => await authorizeAs(sim, msg.authUrl ?? '', msg.userId ?? ''))
    queue = run.catch(() => {})
    run.then(
      ({ code, state }) => send({ id: msg.id, ok: true, code, state }),
      (err: unknown) => send({ id: msg.id, ok: false, error: (err as Error).message })
    )
  }
})
process.on('disconnect', () => { sim.close().then(() => process.exit(0), () => process.exit(1)) })

send({ type: 'ready', url: sim.url, apiBaseUrl: sim.apiBaseUrl, publicKey: s.getOAuthApp(oauth.clientId)?.verify_key })
