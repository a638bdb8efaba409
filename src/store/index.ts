import type { ResolvedOptions } from '../options/index.js'
import { SecretBox } from './crypto.js'
import type { DiscordStore } from './port/index.js'
import type { SqliteStoreOptions } from './sqlite/index.js'
import type { MongoStoreOptions } from './mongo/index.js'

export * from './port/index.js'
export { SecretBox, generateKey, keyId, secretContext } from './crypto.js'

/**
 * Builds the store the options describe. Adapters are imported lazily, and each adapter
 * imports its driver only when it needs it (a bundler hoists static imports to the top of
 * the package), so a host on MongoDB never loads the native SQLite module, and vice versa.
 * Returns the store ready for use (init() done).
 */
export async function createStore (opts: Pick<ResolvedOptions, 'store' | 'encryptionKeys'>): Promise<DiscordStore> {
  const option = opts.store
  if (!('type' in option)) {
    // A host's store: init() is idempotent by contract, so one the host already initialised is
    // unaffected and one it did not is migrated/indexed instead of failing every request. Never closed here.
    await option.init()
    return option
  }
  // resolveOptions guarantees keys whenever the plugin builds the store.
  const secrets = new SecretBox(opts.encryptionKeys as string[])
  let store: DiscordStore
  if (option.type === 'sqlite') {
    // The options name host handles structurally (util/driver-types.ts: the shipped types must not
    // need the drivers); resolveStore has checked their shape, and the adapters use the driver's types.
    const { SqliteStore } = await import('./sqlite/index.js')
    store = new SqliteStore({ path: option.path ?? './data/discord.sqlite', secrets, database: option.database as SqliteStoreOptions['database'] })
  } else {
    const { MongoStore } = await import('./mongo/index.js')
    store = new MongoStore({ ...option, db: option.db as MongoStoreOptions['db'], client: option.client as MongoStoreOptions['client'], secrets })
  }
  try {
    await store.init()
  } catch (err) {
    await store.close().catch(() => {})
    throw err
  }
  return store
}
