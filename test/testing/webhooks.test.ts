import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { IDS, OAUTH, seedWorld } from './seed.js'

/*
 * Webhook Events (docs/webhook-events.mdx): the simulator POSTs signed events to an app's URL.
 * The receiver here checks signatures the way an app must, with node:crypto and nothing from the
 * simulator but the public key in hex.
 */

interface Received {
  headers: IncomingHttpHeaders
  body: string
  verified: boolean
}

const sims: DiscordSimulator[] = []
const servers: Server[] = []

afterEach(async () => {
  for (const sim of sims.splice(0)) {
    expect(sim.internalErrors).toEqual([])
    await sim.close()
  }
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
})

/** The raw 32-byte Ed25519 key in an SPKI wrapper (RFC 8410): what an app does with the portal's hex key. */
function publicKeyFromHex (hex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' })
}

/** An app's events endpoint: 401 for a bad signature, 204 otherwise, as the docs ask. */
async function receiver (publicKeyHex: () => string): Promise<{ url: string, received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const signature = String(req.headers['x-signature-ed25519'] ?? '')
      const timestamp = String(req.headers['x-signature-timestamp'] ?? '')
      let verified = false
      try {
        verified = verify(null, Buffer.from(timestamp + body), publicKeyFromHex(publicKeyHex()), Buffer.from(signature, 'hex'))
      } catch {}
      received.push({ headers: req.headers, body, verified })
      res.writeHead(verified ? 204 : 401).end(verified ? undefined : 'invalid request signature')
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, received }
}

async function start (): Promise<DiscordSimulator> {
  const sim = await createDiscordSimulator()
  sims.push(sim)
  seedWorld(sim)
  return sim
}

describe('an application\'s key pair', () => {
  it('has a 32-byte Ed25519 public key in hex, different per app, shown as verify_key', async () => {
    const sim = await start()
    const app = sim.state.getOAuthApp(OAUTH.clientId)!
    expect(app.verify_key).toMatch(/^[0-9a-f]{64}$/)
    expect(sim.webhooks.publicKey(OAUTH.clientId)).toBe(app.verify_key)
    const other = sim.state.addOAuthApp({ client_id: '1100000000000000050', client_secret: 's', redirect_uris: ['http://127.0.0.1:9/cb'] })
    expect(other.verify_key).not.toBe(app.verify_key)
    expect(publicKeyFromHex(app.verify_key).asymmetricKeyType).toBe('ed25519')
  })
})

describe('delivery', () => {
  it('POSTs a PING (type 0) signed over timestamp + body; the app answers 204', async () => {
    const sim = await start()
    const app = await receiver(() => sim.webhooks.publicKey(OAUTH.clientId))
    sim.state.setEventWebhooksUrl(OAUTH.clientId, app.url)
    const delivery = await sim.webhooks.ping({ clientId: OAUTH.clientId })
    expect(delivery.status).toBe(204)
    expect(app.received).toHaveLength(1)
    const got = app.received[0]!
    expect(got.verified).toBe(true)
    expect(JSON.parse(got.body)).toEqual({ version: 1, application_id: OAUTH.clientId, type: 0 })
    expect(got.headers['content-type']).toBe('application/json')
    expect(got.headers['x-signature-timestamp']).toMatch(/^\d{10}$/)
    expect(sim.webhooks.deliveries).toEqual([delivery])
  })

  it('can sign wrongly on purpose (an invalid or a chosen signature) and send any event type with a chosen timestamp', async () => {
    const sim = await start()
    const app = await receiver(() => sim.webhooks.publicKey(OAUTH.clientId))
    sim.state.setEventWebhooksUrl(OAUTH.clientId, app.url)
    expect((await sim.webhooks.ping({ signature: 'invalid' })).status).toBe(401)
    expect((await sim.webhooks.ping({ signature: { signature: 'ab'.repeat(64) } })).status).toBe(401)
    expect((await sim.webhooks.send('APPLICATION_AUTHORIZED', { scopes: ['identify'] }, { timestamp: '1700000000' })).status).toBe(204)
    expect(app.received.map((r) => r.verified)).toEqual([false, false, true])
    expect(app.received[2]!.headers['x-signature-timestamp']).toBe('1700000000')
  })

  it('records a failed delivery with status 0 instead of throwing', async () => {
    const sim = await start()
    const app = await receiver(() => sim.webhooks.publicKey())
    servers.pop()!.close()
    sim.state.setEventWebhooksUrl(OAUTH.clientId, app.url)
    const delivery = await sim.webhooks.ping()
    expect(delivery.status).toBe(0)
    expect(delivery.error).toBeDefined()
  })
})

describe('deauthorize', () => {
  it('revokes the user\'s tokens for the app and POSTs a signed APPLICATION_DEAUTHORIZED with the user', async () => {
    const sim = await start()
    const app = await receiver(() => sim.webhooks.publicKey(OAUTH.clientId))
    sim.state.setEventWebhooksUrl(OAUTH.clientId, app.url)
    const alice = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes: ['identify', 'guilds'] })
    const again = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes: ['identify'] })
    const bob = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.bob, scopes: ['identify'] })
    const me = async (token: string): Promise<number> => (await fetch(`${sim.apiBaseUrl}/users/@me`, { headers: { authorization: `Bearer ${token}` } })).status
    expect(await me(alice.access_token)).toBe(200)

    const result = await sim.deauthorize(IDS.alice)
    expect(result.revoked).toBe(2)
    expect(result.delivery?.status).toBe(204)
    expect(await me(alice.access_token)).toBe(401)
    expect(await me(again.access_token)).toBe(401)
    expect(sim.state.findRefreshToken(alice.refresh_token!)).toBeUndefined()
    expect(await me(bob.access_token)).toBe(200)

    const got = app.received[0]!
    expect(got.verified).toBe(true)
    const body = JSON.parse(got.body) as Record<string, any>
    expect(body).toMatchObject({ version: 1, application_id: OAUTH.clientId, type: 1, event: { type: 'APPLICATION_DEAUTHORIZED', data: { user: { id: IDS.alice, username: 'alice' } } } })
    expect(Number.isNaN(Date.parse(body.event.timestamp))).toBe(false)
  })

  it('still revokes when the app has no events URL, and says nothing was delivered', async () => {
    const sim = await start()
    const t = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes: ['identify'] })
    const result = await sim.webhooks.deauthorize(IDS.alice, { clientId: OAUTH.clientId })
    expect(result).toEqual({ revoked: 1, delivery: null })
    expect(sim.state.findAccessToken(t.access_token)).toBeUndefined()
  })
})
