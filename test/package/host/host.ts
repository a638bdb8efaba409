// The host application of test/package/package.test.ts: compiled with strict tsc (skipLibCheck false)
// against the packed, installed package, then run. Its assertions are the checks. Excluded from the
// repository's tsconfig: it imports the package by its published name, from its own node_modules.
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import discordSync, { generateKey, type FastifyDiscordSyncOptions, type MembershipProvider } from 'fastify-discord-sync'
import { createBotToken, createDiscordSimulator } from 'fastify-discord-sync/testing'

// A Discord of the host's own: an OAuth2 application, a user, a bot and a guild.
const sim = await createDiscordSimulator()
const CLIENT_ID = '900000000000000001'
const CLIENT_SECRET = 'host-client-secret-value'
const REDIRECT_URI = 'http://127.0.0.1:3000/discord/auth/callback'
const BOT_ID = '100000000000000009'
const botToken = createBotToken(BOT_ID)
sim.state.addOAuthApp({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI] })
sim.state.addUser({ id: '100000000000000001', username: 'alice' })
sim.state.addBot({ token: botToken, user: { id: BOT_ID, username: 'sync-bot' } })
sim.state.addGuild({ id: '200000000000000001', name: 'Host Guild', owner_id: '100000000000000001' })
sim.state.addMember('200000000000000001', BOT_ID)
sim.state.addMember('200000000000000001', '100000000000000001')

// The host's side: its users' groups, and who its admins are.
const membership: MembershipProvider = { getMembership: (userId) => userId === 'alice' ? { groups: [{ id: 'pilots', name: 'Pilots' }], character_count: 1, permissions: [] } : null }
const options: FastifyDiscordSyncOptions = {
  store: { type: 'sqlite', path: ':memory:' },
  encryptionKey: generateKey(),
  apiBaseUrl: sim.apiBaseUrl,
  discord: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, authorizeUrl: `${sim.url}/oauth2/authorize` },
  auth: {
    jwtSecret: 'a-host-jwt-secret-of-at-least-32-characters',
    resolveUser: (profile) => ({ id: profile.username === 'alice' ? 'alice' : `discord-${profile.id}`, permissions: [] })
  },
  membership
}
const app = Fastify()
await app.register(discordSync, options)

// Sign in as alice through the simulator's consent page.
sim.setAutoApprove('100000000000000001')
const start = await app.inject('/discord/auth/login')
assert.equal(start.statusCode, 200)
const consent = await fetch(start.json().auth_url, { redirect: 'manual' })
const callback = new URL(consent.headers.get('location') ?? '')
const cookies = Object.fromEntries(start.cookies.map((c) => [c.name, c.value]))
const login = await app.inject({ url: `/discord/auth/callback${callback.search}`, cookies })
assert.equal(login.statusCode, 200)
assert.equal(login.json().account.discord_user_id, '100000000000000001')
assert.equal(login.json().user_id, 'alice')
const session = login.cookies.find((c) => c.name === 'falcon_auth_token')
assert.ok(session)
const status = await app.inject({ url: '/discord/auth/status', cookies: { falcon_auth_token: session.value } })
assert.equal(status.json().authenticated, true)
assert.equal(status.json().linked, true)

// The bot side, with the token the testing entry point made.
const guild = await app.discord.client.bot(botToken).getGuild('200000000000000001')
assert.equal(guild.name, 'Host Guild')

// The API reference and the admin UI assets ship in the package.
assert.equal((await app.inject('/discord/docs/')).statusCode, 200)
await app.close()

// A MongoDB store without the optional mongodb package: a start-up error naming it.
const mongoHost = Fastify()
await assert.rejects(async () => { await mongoHost.register(discordSync, { store: { type: 'mongodb', uri: 'mongodb://127.0.0.1:9', dbName: 'x' }, encryptionKey: generateKey() }) },
  (err: Error & { code?: string }) => err.code === 'FST_DISCORD_DEPENDENCY_MISSING' && err.message.includes('npm install mongodb'))
await mongoHost.close()

await sim.close()
console.log('host: login completed')
