import { describe, expect, it } from 'vitest'
import { importOptional } from '../src/util/optional-import.js'

/*
 * mongodb and ioredis are optional peers: a configuration that needs one that is not installed
 * stops with FST_DISCORD_DEPENDENCY_MISSING naming the package and the option (the packed-package
 * test shows it for mongodb in a real host); any other failure of the import passes through.
 */

const missing = 'fastify-discord-sync-no-such-package'

describe('importOptional', () => {
  it('names the missing package, the option that needs it and the command that installs it', async () => {
    const err = await importOptional(missing, 'store.type "mongodb"', async () => await import(missing)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'FST_DISCORD_DEPENDENCY_MISSING', statusCode: 500 })
    expect((err as Error).message).toBe(`store.type "mongodb" needs the package "${missing}", which is not installed: run \`npm install ${missing}\``)
  })

  it('returns the module when it is there', async () => {
    const mod = await importOptional('node:path', 'test', async () => await import('node:path'))
    expect(typeof mod.join).toBe('function')
  })

  it('lets other failures through: a dependency of the package missing, or its own error', async () => {
    const transitive = Object.assign(new Error(`Cannot find package 'some-other-dep' imported from /x/node_modules/${missing}/index.js`), { code: 'ERR_MODULE_NOT_FOUND' })
    await expect(importOptional(missing, 'test', async () => { throw transitive })).rejects.toBe(transitive)
    const own = new Error('boom')
    await expect(importOptional(missing, 'test', async () => { throw own })).rejects.toBe(own)
  })
})
