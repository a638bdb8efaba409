/*
 * A second process for test/store/single-writer.test.ts: registers the plugin on the SQLite file
 * named in argv (with Redis when a URL follows), prints "ready" or "refused: <code>: <message>"
 * (exit 78), and stays up until its stdin closes (then closes the app and exits 0).
 */
import Fastify from 'fastify'
import discordSync from '../../src/index.js'

const [file, redis] = process.argv.slice(2)
const app = Fastify()
try {
  await app.register(discordSync, {
    store: { type: 'sqlite', path: file as string },
    encryptionKey: Buffer.alloc(32, 7).toString('base64'),
    ...(redis === undefined ? {} : { redis, redisKeyPrefix: `writer-test-${process.pid}:` }),
    sync: { enabled: false },
    healthCheck: { enabled: false },
    tokenRefresh: { enabled: false }
  })
  await app.ready()
  console.log(`ready ${process.pid}`)
} catch (err) {
  console.log(`refused: ${(err as { code?: string }).code}: ${(err as Error).message}`)
  process.exit(78)
}
process.stdin.resume()
process.stdin.on('end', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
