import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { buildHost } from './app.js'
import { HostDatabase } from './db.js'
import { configureDiscord, DISCORD, seedHost, startSimulatedDiscord } from './seed.js'

/*
 * `npx tsx examples/host/server.ts`: the host example against a simulated Discord in this
 * process (nothing reaches discord.com). PORT (default 3100; 0 picks a free one) and HOST
 * (default 127.0.0.1) choose where it listens; everything else is generated per start and kept
 * in memory.
 */

/** A free port, chosen before start-up because the OAuth redirect URI must name it. */
async function freePort (host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

async function main (): Promise<void> {
  const host = process.env.HOST ?? '127.0.0.1'
  const wanted = Number(process.env.PORT ?? 3100)
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) throw new Error(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`)
  const port = wanted === 0 ? await freePort(host) : wanted
  const publicUrl = `http://${host}:${port}`

  const discord = await startSimulatedDiscord(`${publicUrl}/api/discord/auth/callback`)
  const db = new HostDatabase()
  const people = seedHost(db)
  const app = await buildHost({
    db,
    jwtSecret: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('base64'),
    publicUrl,
    discord: { clientId: DISCORD.clientId, clientSecret: discord.clientSecret, apiBaseUrl: discord.sim.apiBaseUrl, authorizeUrl: `${discord.sim.url}/oauth2/authorize` },
    cookieSecure: false,
    logger: true
  })
  await app.ready()
  await configureDiscord(app, discord, people)
  await app.listen({ port, host })

  let closing = false
  const shutdown = (): void => {
    if (closing) process.exit(1)
    closing = true
    // The plugin first (its runs finish against Discord), then Discord, then the host's database.
    app.close().then(async () => { await discord.sim.close(); db.close() }).then(() => process.exit(0), (err: unknown) => {
      console.error(err)
      process.exit(1)
    })
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)

  console.log([
    '',
    `  Host example on ${publicUrl} (Discord simulated at ${discord.sim.url}; nothing reaches discord.com)`,
    `  Admin UI:    ${publicUrl}/api/discord/admin/  (Sign in with Discord, pick Olivia: an officer, so an admin)`,
    `  Host login:  curl -c jar -H 'content-type: application/json' -d '{"username":"olivia","password":"olivia-password"}' ${publicUrl}/api/session`,
    `  Groups:      curl -b jar ${publicUrl}/api/groups`,
    `  Promote:     curl -b jar -X PUT -H 'x-requested-with: curl' ${publicUrl}/api/groups/officers/members/${people.alice.id}`,
    '  Walk-through: docs/host-integration.md',
    ''
  ].join('\n'))
}

main().catch((err: unknown) => {
  console.error('host example: failed to start:', err instanceof Error ? err.message : err)
  process.exit(1)
})
