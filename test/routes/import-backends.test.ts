import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Db } from 'mongodb'
import type { FastifyDiscordSyncOptions } from '../../src/index.js'
import type { DiscordStore, RoleMappingRecord } from '../../src/store/port/index.js'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { MongoDouble } from '../store/mongo-double.js'
import { buildWorld, type World } from '../helpers/world.js'
import { configureGuild, createMapping, expectDocumentedStatuses, expectNoSecrets, IDS, routeWorld, startSimulator } from './helpers.js'

/*
 * Bulk import through the HTTP API on both store backends: the SQLite store (one
 * transaction) and the MongoDB store without transactions (the in-process double behaves as
 * a standalone server, the path where the store itself must validate before writing). A dry
 * run writes nothing, and an import that fails while being applied leaves every mapping as
 * it was: all or nothing, not just "validated first".
 */

let sim: DiscordSimulator
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })

const BACKENDS: Array<[string, () => Partial<FastifyDiscordSyncOptions>]> = [
  ['sqlite', () => ({})],
  ['mongodb (no transactions)', () => ({ store: { type: 'mongodb', db: new MongoDouble(`fds_${randomUUID()}`) as unknown as Db } })]
]

const base = `/discord/guilds/${IDS.guild}/role-mappings`

/** What an admin would compare: every field but the timestamps the store sets. */
function snapshot (mappings: RoleMappingRecord[]): unknown[] {
  return mappings
    .map(({ created_at: _c, updated_at: _u, ...rest }) => rest)
    .sort((a, b) => `${a.group_id}/${a.discord_role_id}`.localeCompare(`${b.group_id}/${b.discord_role_id}`))
}

describe.each(BACKENDS)('import on the %s store', (_name, storeOptions) => {
  let t: World
  let store: DiscordStore

  beforeEach(async () => {
    t = await buildWorld(routeWorld(sim, storeOptions()))
    store = t.app.discord.store
    await configureGuild(t)
    await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    await createMapping(t, { group_id: 'old', discord_role_id: IDS.staffRole })
  })
  afterEach(async () => {
    expectNoSecrets(t)
    await expectDocumentedStatuses(t)
    await t.close()
  })

  // Replaces the guild's mappings: updates pilots, creates two, deletes old.
  const doc = {
    version: 1,
    mode: 'replace',
    mappings: [
      { group_id: 'pilots', discord_role_id: IDS.pilotRole, priority: 9 },
      { group_id: 'new', discord_role_id: IDS.staffRole },
      { group_id: 'race', discord_role_id: IDS.pilotRole }
    ]
  }

  it('a dry run reports every change and writes nothing', async () => {
    const before = snapshot(await store.listMappings({ guild_id: IDS.guild }))
    const res = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { ...doc, dry_run: true } })
    expect(res.statusCode).toBe(200)
    const report = res.json()
    expect(report).toMatchObject({ dry_run: true, applied: false, invalid: [] })
    expect(report.created.map((c: { group_id: string }) => c.group_id).sort()).toEqual(['new', 'race'])
    expect(report.updated.map((c: { group_id: string }) => c.group_id)).toEqual(['pilots'])
    expect(report.deleted.map((c: { group_id: string }) => c.group_id)).toEqual(['old'])
    expect(snapshot(await store.listMappings({ guild_id: IDS.guild }))).toEqual(before)
  })

  it('applies creates, updates and deletes together', async () => {
    const res = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: doc })
    expect(res.statusCode).toBe(200)
    expect(res.json().applied).toBe(true)
    const after = await store.listMappings({ guild_id: IDS.guild })
    expect(after.map((m) => `${m.group_id}:${m.priority}`).sort()).toEqual(['new:1', 'pilots:9', 'race:1'])
  })

  it('a store refusal while applying (a concurrent admin took a pair) leaves every mapping as it was', async () => {
    // Another admin creates "race" after the import read the guild's mappings and before it writes.
    const listMappings = store.listMappings.bind(store)
    let armed = true
    store.listMappings = async (query) => {
      const list = await listMappings(query)
      if (armed) {
        armed = false
        await store.createMapping({ guild_id: IDS.guild, group_id: 'race', discord_role_id: IDS.pilotRole, created_by: 'someone-else' })
      }
      return list
    }
    try {
      const before = snapshot(await listMappings({ guild_id: IDS.guild }))
      armed = true
      const res = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: doc })
      expect(armed).toBe(false)
      expect(res.statusCode).toBe(409)
      expect(res.json()).toMatchObject({ statusCode: 409, code: 'FST_DISCORD_CONFLICT' })
      // Only the other admin's mapping is new: "old" was not deleted, "pilots" not updated, "new" not created.
      const after = snapshot(await listMappings({ guild_id: IDS.guild }))
      expect(after).toHaveLength(3)
      expect(after.filter((m) => (m as { group_id: string }).group_id !== 'race')).toEqual(before)
      expect(after.find((m) => (m as { group_id: string }).group_id === 'race')).toMatchObject({ created_by: 'someone-else' })
    } finally {
      store.listMappings = listMappings
    }
  })
})
