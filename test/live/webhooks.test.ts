import { generateKeyPairSync, sign } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { verifyWebhook, webhookPublicKey } from '../../src/live/webhook-signature.js'
import { discordOptions, generousLimits } from '../helpers/world.js'
import { ADMIN, aliceNeedsPilot, buildSyncWorld, HOST, IDS, OAUTH_APP, seedSimulator, type SyncWorld } from '../sync/helpers.js'

/*
 * Discord's Webhook Events (issue 13, part 4): the simulator signs and POSTs them as Discord does
 * (sim.webhooks / sim.deauthorize); the plugin verifies the Ed25519 signature over timestamp + raw
 * body, refuses replays, and removes a deauthorised user's link, tokens and managed roles.
 */

let w: SyncWorld | undefined
afterEach(async () => { await w?.close(); w = undefined })

/** A world whose plugin knows the simulator app's public key and whose events URL points at it. */
async function webhookWorld (publicKey?: string | null): Promise<SyncWorld> {
  const sim: DiscordSimulator = await createDiscordSimulator(generousLimits())
  seedSimulator(sim)
  sim.state.addOAuthApp({ client_id: OAUTH_APP.clientId, client_secret: OAUTH_APP.clientSecret, redirect_uris: [OAUTH_APP.redirectUri], name: 'Falcon' })
  const key = publicKey === undefined ? sim.webhooks.publicKey(OAUTH_APP.clientId) : publicKey
  const world = await buildSyncWorld({
    sim,
    oauth: true,
    plugin: { discord: { ...discordOptions(sim, OAUTH_APP), publicKey: key ?? undefined } }
  })
  sim.state.setEventWebhooksUrl(OAUTH_APP.clientId, `${world.baseUrl}/discord/webhooks/events`)
  return world
}

describe('POST /webhooks/events', () => {
  it('acknowledges a signed PING with 204 and an empty body', async () => {
    w = await webhookWorld()
    const ping = await w.sim.webhooks.ping()
    expect(ping.status).toBe(204)
    expect(ping.responseBody).toBe('')
  })

  it('refuses a bad, missing, foreign or replayed signature with 401 (before reading the body)', async () => {
    w = await webhookWorld()
    expect((await w.sim.webhooks.ping({ signature: 'invalid' })).status).toBe(401)
    expect((await w.sim.webhooks.ping({ signature: { signature: 'zz' } })).status).toBe(401)
    const old = String(Math.floor(Date.now() / 1000) - 6 * 60)
    const replay = await w.sim.webhooks.ping({ timestamp: old })
    expect(replay.status).toBe(401)
    expect(JSON.parse(replay.responseBody)).toMatchObject({ code: 'FST_DISCORD_WEBHOOK_SIGNATURE_INVALID' })
    const missing = await w.inject({ method: 'POST', url: '/discord/webhooks/events', payload: { type: 0 } })
    expect(missing.statusCode).toBe(401)
    // An attacker's garbage body with no valid signature is a 401, not a 400: unsigned bodies are never parsed.
    expect((await w.sim.webhooks.ping({ signature: 'invalid', rawBody: '{not json' })).status).toBe(401)
  })

  it('answers 400 for a signed body that is not a webhook payload, 413 over 64 KB, 204 for events it does not handle', async () => {
    w = await webhookWorld()
    expect((await w.sim.webhooks.ping({ rawBody: '{not json' })).status).toBe(400)
    expect((await w.sim.webhooks.ping({ rawBody: '{"type":7}' })).status).toBe(400)
    const big = await w.sim.webhooks.ping({ rawBody: JSON.stringify({ type: 0, pad: 'x'.repeat(70 * 1024) }) })
    expect(big.status).toBe(413)
    expect((await w.sim.webhooks.send('APPLICATION_AUTHORIZED', { user: { id: IDS.alice } })).status).toBe(204)
    expect((await w.sim.webhooks.send('ENTITLEMENT_CREATE', {})).status).toBe(204)
    const noUser = await w.sim.webhooks.send('APPLICATION_DEAUTHORIZED', { user: { id: 'not-a-snowflake' } })
    expect(noUser.status).toBe(400)
  })

  it('answers 503 FST_DISCORD_NOT_CONFIGURED without discord.publicKey', async () => {
    w = await webhookWorld(null)
    const ping = await w.sim.webhooks.ping()
    expect(ping.status).toBe(503)
    expect(JSON.parse(ping.responseBody)).toMatchObject({ code: 'FST_DISCORD_NOT_CONFIGURED' })
  })

  it('APPLICATION_DEAUTHORIZED: the link and tokens are deleted and the managed roles removed (run initiated by deauthorized:)', async () => {
    w = await aliceNeedsPilot(await webhookWorld())
    await w.store.setUserTokens(IDS.alice, { access_token: 'a'.repeat(30), refresh_token: 'r'.repeat(30), expires_at: new Date(Date.now() + 3_600_000), scopes: ['identify'] })
    // Alice holds the managed role (an earlier sync gave it).
    await w.app.discord.sync.engine.syncUser(HOST.alice, 'test')
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
    const lost = w.app.discord.events.next('access.lost')
    const removed = w.app.discord.events.next('sync.finished', (e) => e.initiated_by.startsWith('deauthorized:'))
    const result = await w.sim.deauthorize(IDS.alice, { clientId: OAUTH_APP.clientId })
    expect(result.delivery?.status).toBe(204)
    expect(await lost).toMatchObject({ discord_user_id: IDS.alice, reason: 'deauthorized' })
    expect(await removed).toMatchObject({ status: 'completed', initiated_by: `deauthorized:${HOST.alice}` })
    expect(await w.store.getUserByDiscordId(IDS.alice)).toBeNull()
    expect(await w.store.getUserTokens(IDS.alice)).toBeNull()
    expect(w.roles(IDS.g1, IDS.alice)).not.toContain(IDS.pilot)
    // A second delivery (Discord retries) finds nothing to do and still acknowledges.
    expect((await w.sim.webhooks.send('APPLICATION_DEAUTHORIZED', { user: { id: IDS.alice } })).status).toBe(204)
    const status = await w.inject({ method: 'GET', url: `/discord/users/${HOST.alice}`, as: ADMIN })
    expect(status.statusCode).toBe(404)
  })
})

describe('verifyWebhook', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const hex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')
  const key = webhookPublicKey(hex)
  const body = Buffer.from('{"type":0}')
  const now = 1_700_000_000_000
  const ts = String(now / 1000)
  const sig = sign(null, Buffer.concat([Buffer.from(ts), body]), privateKey).toString('hex')

  it('accepts Discord\'s signature over timestamp + body and nothing else', () => {
    expect(verifyWebhook(key, { signature: sig, timestamp: ts, body }, now, 300_000)).toBe('ok')
    expect(verifyWebhook(key, { signature: sig, timestamp: ts, body: Buffer.from('{"type":1}') }, now, 300_000)).toBe('bad_signature')
    expect(verifyWebhook(key, { signature: sig, timestamp: String(now / 1000 + 1), body }, now, 300_000)).toBe('bad_signature')
    expect(verifyWebhook(key, { signature: undefined, timestamp: ts, body }, now, 300_000)).toBe('missing_headers')
    expect(verifyWebhook(key, { signature: sig, timestamp: ts, body }, now + 300_001, 300_000)).toBe('stale')
    expect(verifyWebhook(key, { signature: sig, timestamp: ts, body }, now - 300_001, 300_000)).toBe('stale')
  })

  it('reads only a 64-hex-character public key', () => {
    expect(() => webhookPublicKey('abc')).toThrow(TypeError)
    expect(() => webhookPublicKey('g'.repeat(64))).toThrow(TypeError)
  })
})
