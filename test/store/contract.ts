import { describe, expect, it } from 'vitest'
import { linkedAccountsContract } from './contract/accounts.js'
import { storeFixture, type StoreHarness } from './contract/fixture.js'
import { guildsContract } from './contract/guilds.js'
import { roleMappingsContract } from './contract/mappings.js'
import { oauthStatesContract } from './contract/oauth-states.js'
import { secretsAtRestContract } from './contract/secrets.js'
import { syncRunsContract } from './contract/sync-runs.js'
import { taskRunsContract } from './contract/task-runs.js'
import { leasesContract } from './contract/leases.js'
import { syncRunsVersionContract } from './contract/sync-runs-version.js'
import { accessLossContract } from './contract/access-loss.js'
import { storeStatsContract } from './contract/stats.js'
import { nameLookupContract } from './contract/names.js'
import { runSummariesContract } from './contract/run-summaries.js'

export type { StoreHarness } from './contract/fixture.js'

/*
 * The one behavioural contract of the store port. Every adapter runs it unchanged
 * (test/store/sqlite.test.ts, the MongoDB suite), so the plugin can treat backends
 * as interchangeable. Nothing here may depend on how a backend stores data: the
 * only window into storage is `rawDump`, used to prove secrets are sealed at rest.
 * One file per aggregate under contract/, all sharing one per-test store (fixture.ts).
 */

export function describeStoreContract (backend: string, harness: StoreHarness): void {
  describe(`store contract: ${backend}`, () => {
    const fx = storeFixture(backend, harness)

    // ------------------------------------------------------------ lifecycle

    describe('lifecycle', () => {
      it('names its backend, pings, and tolerates a second init()', async () => {
        expect(typeof fx.store.kind).toBe('string')
        expect(fx.store.kind.length).toBeGreaterThan(0)
        await expect(fx.store.ping()).resolves.toBeUndefined()
        await fx.store.init()
        const u = await fx.store.createUser(fx.userInput())
        await fx.store.init()
        expect(await fx.store.getUserByDiscordId(u.discord_user_id)).toEqual(u)
      })
    })

    linkedAccountsContract(fx)
    guildsContract(fx)
    roleMappingsContract(fx)
    syncRunsContract(fx)
    syncRunsVersionContract(fx)
    taskRunsContract(fx)
    leasesContract(fx)
    accessLossContract(fx)
    oauthStatesContract(fx)
    secretsAtRestContract(fx)
    storeStatsContract(fx)
    nameLookupContract(fx)
    runSummariesContract(fx)
  })
}
