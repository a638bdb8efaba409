import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildWorld, type World } from '../helpers/world.js'
import {
  BOT_TOKEN,
  configureGuild,
  createMapping,
  expectDocumentedStatuses,
  expectNoSecrets,
  IDS,
  routeWorld,
  startSimulator
} from './helpers.js'

let sim: DiscordSimulator
let t: World

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
beforeEach(async () => {
  t = await buildWorld(routeWorld(sim))
  await configureGuild(t)
})
afterEach(async () => {
  expectNoSecrets(t)
  await expectDocumentedStatuses(t)
  await t.close()
})

const base = `/discord/guilds/${IDS.guild}/role-mappings`

describe('POST /discord/guilds/{guild_id}/role-mappings', () => {
  it('creates a mapping with defaults, Discord\'s role name and the creator', async () => {
    const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload: { group_id: 'pilots', discord_role_id: IDS.pilotRole, discord_role_name: 'typo name', group_name: 'EVE Players' } })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({
      guild_id: IDS.guild,
      group_id: 'pilots',
      group_name: 'EVE Players',
      discord_role_id: IDS.pilotRole,
      discord_role_name: 'EVE Pilot',
      conditions: { require_all: false, character_count_min: null, character_count_max: null, required_permissions: [], excluded_groups: [] },
      priority: 1,
      exclusive_set: null,
      enabled: true,
      is_active: true,
      created_by: 'admin-1',
      last_sync: null,
      sync_count: 0
    })
    expect(typeof res.json().id).toBe('string')
  })

  it('accepts full conditions, priority, exclusive_set and is_active', async () => {
    const res = await t.inject({
      method: 'POST',
      url: base,
      as: 'admin',
      payload: {
        group_id: 'pilots',
        discord_role_id: IDS.pilotRole,
        conditions: { require_all: true, character_count_min: 1, character_count_max: 3, required_permissions: ['fleet'], excluded_groups: ['banned'] },
        priority: 7,
        exclusive_set: 'rank',
        is_active: false
      }
    })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({
      conditions: { require_all: true, character_count_min: 1, character_count_max: 3, required_permissions: ['fleet'], excluded_groups: ['banned'] },
      priority: 7,
      exclusive_set: 'rank',
      enabled: false,
      is_active: false
    })
  })

  it.each([
    [IDS.adminsRole, 'FST_DISCORD_ROLE_ABOVE_BOT', /"Admins".*not below the bot's highest role \(position 10\)/],
    [IDS.peerRole, 'FST_DISCORD_ROLE_ABOVE_BOT', /"Peer".*position 10/],
    [IDS.botRole, 'FST_DISCORD_ROLE_ABOVE_BOT', /"syncbot"/],
    [IDS.boosterRole, 'FST_DISCORD_ROLE_MANAGED', /managed by an integration/],
    [IDS.guild, 'FST_DISCORD_ROLE_EVERYONE', /@everyone/],
    ['987654321098765499', 'FST_DISCORD_ROLE_NOT_FOUND', /does not exist in guild/]
  ])('refuses role %s with 422 %s', async (roleId, code, message) => {
    const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload: { group_id: 'g', discord_role_id: roleId } })
    expect(res.statusCode).toBe(422)
    expect(res.json()).toMatchObject({ statusCode: 422, code })
    expect(res.json().message).toMatch(message)
    expect(await t.app.discord.store.countMappings()).toBe(0)
  })

  it('refuses when the bot lost Manage Roles, naming the permission', async () => {
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, 0n)
    try {
      const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload: { group_id: 'g', discord_role_id: IDS.pilotRole } })
      expect(res.statusCode).toBe(422)
      expect(res.json().code).toBe('FST_DISCORD_BOT_MISSING_PERMISSION')
      expect(res.json().message).toMatch(/Manage Roles/)
    } finally {
      sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 28n) | (1n << 10n) | (1n << 11n))
    }
  })

  it('a malformed role list from Discord is a 502, never a mapping waved through', async () => {
    // A role above the bot, with its position sent as a word: compared as is, it would pass the hierarchy check.
    const roles = (await t.app.discord.client.bot(BOT_TOKEN).getGuildRoles(IDS.guild)).map((r) => r.id === IDS.adminsRole ? { ...r, position: 'top' } : r)
    sim.scriptFault({ kind: 'malformed', route: 'GET /guilds/:guild_id/roles', body: JSON.stringify(roles) })
    try {
      const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload: { group_id: 'g', discord_role_id: IDS.adminsRole } })
      expect(res.statusCode).toBe(502)
      expect(res.json()).toMatchObject({ statusCode: 502, code: 'FST_DISCORD_UPSTREAM' })
      expect(res.json().message).toMatch(/malformed role 987654321098765434.*nothing was changed/)
      expect(await t.app.discord.store.countMappings()).toBe(0)
    } finally {
      sim.clearFaults()
    }
  })

  it('a guild without a bot token cannot take mappings (nothing to check them against)', async () => {
    await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: null } })
    const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload: { group_id: 'g', discord_role_id: IDS.pilotRole } })
    expect(res.statusCode).toBe(422)
    expect(res.json().code).toBe('FST_DISCORD_GUILD_NO_BOT_TOKEN')
  })

  it('an unconfigured guild is a 404', async () => {
    const res = await t.inject({ method: 'POST', url: `/discord/guilds/${IDS.noBotGuild}/role-mappings`, as: 'admin', payload: { group_id: 'g', discord_role_id: IDS.pilotRole } })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('FST_DISCORD_NOT_FOUND')
  })

  it('the same group → role pair twice is a 409 naming the existing mapping, checked before any Discord call', async () => {
    const first = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    sim.clearRequests()
    const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload: { group_id: 'pilots', discord_role_id: IDS.pilotRole, priority: 2 } })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_CONFLICT' })
    expect(res.json().message).toContain(String(first.id))
    expect(sim.requests).toHaveLength(0)
    // The same group to another role, or another group to the same role, is fine.
    await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.staffRole })
    await createMapping(t, { group_id: 'fc', discord_role_id: IDS.pilotRole })
  })

  it.each([
    ['a missing group_id', { discord_role_id: IDS.pilotRole }, /group_id/],
    ['a missing discord_role_id', { group_id: 'g' }, /discord_role_id/],
    ['a non-snowflake role', { group_id: 'g', discord_role_id: 'EVE Pilot' }, /discord_role_id/],
    ['an unknown field', { group_id: 'g', discord_role_id: IDS.pilotRole, role: 'x' }, /role/],
    ['an unknown conditions field', { group_id: 'g', discord_role_id: IDS.pilotRole, conditions: { min: 1 } }, /min/],
    ['a negative character_count_min', { group_id: 'g', discord_role_id: IDS.pilotRole, conditions: { character_count_min: -1 } }, /character_count_min/],
    ['a fractional character_count_max', { group_id: 'g', discord_role_id: IDS.pilotRole, conditions: { character_count_max: 1.5 } }, /character_count_max/],
    ['min above max', { group_id: 'g', discord_role_id: IDS.pilotRole, conditions: { character_count_min: 4, character_count_max: 2 } }, /character_count_min \(4\) must not exceed/],
    ['excluding its own group', { group_id: 'g', discord_role_id: IDS.pilotRole, conditions: { excluded_groups: ['g'] } }, /own group/],
    ['duplicate excluded groups', { group_id: 'g', discord_role_id: IDS.pilotRole, conditions: { excluded_groups: ['a', 'a'] } }, /excluded_groups/],
    ['priority 0', { group_id: 'g', discord_role_id: IDS.pilotRole, priority: 0 }, /priority/],
    ['a blank group_id', { group_id: ' ', discord_role_id: IDS.pilotRole }, /group_id/],
    ['enabled and is_active disagreeing', { group_id: 'g', discord_role_id: IDS.pilotRole, enabled: false, is_active: true }, /"enabled" and "is_active"/]
  ])('refuses %s with 400 FST_DISCORD_VALIDATION', async (_what, payload, message) => {
    const res = await t.inject({ method: 'POST', url: base, as: 'admin', payload })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_VALIDATION')
    expect(res.json().message).toMatch(message)
  })
})

describe('listing and reading', () => {
  it('GET per guild and GET /role-mappings?guild_id= list the same mappings; enabled filters', async () => {
    await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    await createMapping(t, { group_id: 'staff', discord_role_id: IDS.staffRole, enabled: false })
    const perGuild = await t.inject({ url: base, as: 'admin' })
    expect(perGuild.statusCode).toBe(200)
    expect(perGuild.json().total).toBe(2)
    const global = await t.inject({ url: `/discord/role-mappings?guild_id=${IDS.guild}`, as: 'admin' })
    expect(global.json()).toEqual(perGuild.json())
    const all = await t.inject({ url: '/discord/role-mappings', as: 'admin' })
    expect(all.json().total).toBe(2)
    const on = await t.inject({ url: `${base}?enabled=true`, as: 'admin' })
    expect(on.json().mappings.map((m: { group_id: string }) => m.group_id)).toEqual(['pilots'])
    const other = await t.inject({ url: `/discord/role-mappings?guild_id=${IDS.noBotGuild}`, as: 'admin' })
    expect(other.json()).toEqual({ mappings: [], total: 0, next_cursor: null })
  })

  it('pages by keyset: limit, next_cursor as after, every mapping once in (priority, id) order, total on every page', async () => {
    const store = t.app.discord.store
    // Equal priorities too, so the id breaks ties and the cursor must carry it.
    for (let i = 0; i < 7; i++) {
      await store.createMapping({ guild_id: IDS.guild, group_id: `group-${i}`, discord_role_id: IDS.pilotRole, priority: 1 + (i % 3) })
    }
    const expected = (await store.listMappings({ guild_id: IDS.guild })).map((m) => m.id)
    for (const url of [base, `/discord/role-mappings?guild_id=${IDS.guild}`, '/discord/role-mappings']) {
      const seen: string[] = []
      let after: string | null = null
      let pages = 0
      do {
        const sep = url.includes('?') ? '&' : '?'
        const res = await t.inject({ url: `${url}${sep}limit=3${after === null ? '' : `&after=${after}`}`, as: 'admin' })
        expect(res.statusCode, res.body).toBe(200)
        const body = res.json() as { mappings: Array<{ id: string }>, total: number, next_cursor: string | null }
        expect(body.total).toBe(7)
        expect(body.mappings.length).toBeLessThanOrEqual(3)
        seen.push(...body.mappings.map((m) => m.id))
        after = body.next_cursor
        pages++
      } while (after !== null && pages < 10)
      expect(seen).toEqual(expected)
      expect(pages).toBe(3)
    }
    // A page that ends exactly at the last mapping says so: no empty extra page.
    const exact = await t.inject({ url: `${base}?limit=7`, as: 'admin' })
    expect(exact.json().next_cursor).toBeNull()
    // The default page is 20.
    for (let i = 7; i < 25; i++) await store.createMapping({ guild_id: IDS.guild, group_id: `group-${i}`, discord_role_id: IDS.pilotRole, priority: 5 })
    const first = await t.inject({ url: base, as: 'admin' })
    expect(first.json().mappings).toHaveLength(20)
    expect(first.json().total).toBe(25)
    expect(typeof first.json().next_cursor).toBe('string')
  })

  it.each([
    ['a cursor it never returned', 'after=bm90LWEtY3Vyc29y', /after/],
    ['a cursor that is not base64url', 'after=%2B%2B', /after/],
    ['limit 0', 'limit=0', /limit/],
    ['limit above 100', 'limit=101', /limit/],
    ['a fractional limit', 'limit=2.5', /limit/]
  ])('refuses %s with 400 FST_DISCORD_VALIDATION on both lists', async (_what, qs, message) => {
    for (const url of [`${base}?${qs}`, `/discord/role-mappings?${qs}`]) {
      const res = await t.inject({ url, as: 'admin' })
      expect(res.statusCode, url).toBe(400)
      expect(res.json().code).toBe('FST_DISCORD_VALIDATION')
      expect(res.json().message).toMatch(message)
    }
  })

  it('listing an unconfigured guild is a 404; bad filters are 400s', async () => {
    expect((await t.inject({ url: `/discord/guilds/${IDS.noBotGuild}/role-mappings`, as: 'admin' })).statusCode).toBe(404)
    expect((await t.inject({ url: '/discord/role-mappings?guild_id=abc', as: 'admin' })).json().code).toBe('FST_DISCORD_VALIDATION')
    expect((await t.inject({ url: '/discord/role-mappings?group=x', as: 'admin' })).statusCode).toBe(400)
  })

  it('GET /role-mappings/{id}: the mapping, 404 when unknown, 400 when malformed', async () => {
    const m = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    const res = await t.inject({ url: `/discord/role-mappings/${String(m.id)}`, as: 'admin' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(m)
    expect((await t.inject({ url: '/discord/role-mappings/00000000-0000-4000-8000-000000000000', as: 'admin' })).statusCode).toBe(404)
    expect((await t.inject({ url: '/discord/role-mappings/has%20space', as: 'admin' })).statusCode).toBe(400)
  })
})

describe('PUT /discord/role-mappings/{mapping_id}', () => {
  it('changes priority and conditions without asking Discord; a client\'s role name is not stored', async () => {
    const m = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole, conditions: { character_count_min: 1 } })
    sim.clearRequests()
    const res = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin', payload: { priority: 3, conditions: { character_count_max: 5 }, discord_role_name: 'Renamed by hand' } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ priority: 3, conditions: { character_count_min: 1, character_count_max: 5 }, discord_role_name: 'EVE Pilot' })
    expect(sim.requests).toHaveLength(0)
  })

  it('a new role is checked against Discord (and refused above the bot)', async () => {
    const m = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    const up = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin', payload: { discord_role_id: IDS.adminsRole } })
    expect(up.statusCode).toBe(422)
    expect(up.json().code).toBe('FST_DISCORD_ROLE_ABOVE_BOT')
    const ok = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin', payload: { discord_role_id: IDS.staffRole } })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toMatchObject({ discord_role_id: IDS.staffRole, discord_role_name: 'Staff' })
  })

  it('re-enabling is checked against Discord; disabling is not', async () => {
    const m = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    const off = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin', payload: { is_active: false } })
    expect(off.json()).toMatchObject({ enabled: false, is_active: false })
    sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 30)
    try {
      const on = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin', payload: { enabled: true } })
      expect(on.statusCode).toBe(422)
      expect(on.json().code).toBe('FST_DISCORD_ROLE_ABOVE_BOT')
    } finally {
      sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 5)
    }
  })

  it('moving onto an existing pair is a 409; min > max after merging is a 400; empty body is a 400', async () => {
    const a = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole, conditions: { character_count_max: 2 } })
    await createMapping(t, { group_id: 'staff', discord_role_id: IDS.pilotRole })
    const clash = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(a.id)}`, as: 'admin', payload: { group_id: 'staff' } })
    expect(clash.statusCode).toBe(409)
    const minMax = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(a.id)}`, as: 'admin', payload: { conditions: { character_count_min: 3 } } })
    expect(minMax.statusCode).toBe(400)
    expect(minMax.json().message).toMatch(/character_count_min \(3\) must not exceed conditions.character_count_max \(2\)/)
    const empty = await t.inject({ method: 'PUT', url: `/discord/role-mappings/${String(a.id)}`, as: 'admin', payload: {} })
    expect(empty.statusCode).toBe(400)
    const missing = await t.inject({ method: 'PUT', url: '/discord/role-mappings/nope', as: 'admin', payload: { priority: 2 } })
    expect(missing.statusCode).toBe(404)
    // Nothing of the refused updates stuck.
    expect((await t.app.discord.store.getMapping(String(a.id)))?.conditions.character_count_min).toBeNull()
  })
})

describe('DELETE /discord/role-mappings/{mapping_id}', () => {
  it('deletes, then 404s', async () => {
    const m = await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    const res = await t.inject({ method: 'DELETE', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ id: m.id, deleted: true })
    expect((await t.inject({ method: 'DELETE', url: `/discord/role-mappings/${String(m.id)}`, as: 'admin' })).statusCode).toBe(404)
  })
})

describe('bulk export / import', () => {
  it('round trip: export, wipe with replace, import the export back; the result equals the original', async () => {
    await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole, group_name: 'EVE Players', conditions: { character_count_min: 1 }, priority: 2 })
    await createMapping(t, { group_id: 'staff', discord_role_id: IDS.staffRole, enabled: false, exclusive_set: 'rank' })
    const exported = await t.inject({ url: `${base}/export`, as: 'admin' })
    expect(exported.statusCode).toBe(200)
    const doc = exported.json()
    expect(doc).toMatchObject({ version: 1, guild_id: IDS.guild })
    expect(doc.mappings).toHaveLength(2)

    const wipe = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { version: 1, mode: 'replace', mappings: [] } })
    expect(wipe.statusCode).toBe(200)
    expect(wipe.json().applied).toBe(true)
    expect(wipe.json().deleted.map((d: { group_id: string }) => d.group_id).sort()).toEqual(['pilots', 'staff'])
    expect(await t.app.discord.store.countMappings({ guild_id: IDS.guild })).toBe(0)

    const back = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: doc })
    expect(back.statusCode).toBe(200)
    expect(back.json()).toMatchObject({ mode: 'merge', dry_run: false, applied: true, updated: [], deleted: [], unchanged: [], invalid: [] })
    expect(back.json().created).toHaveLength(2)
    for (const c of back.json().created) expect(typeof c.mapping_id).toBe('string')

    const again = await t.inject({ url: `${base}/export`, as: 'admin' })
    expect({ ...again.json(), exported_at: null }).toEqual({ ...doc, exported_at: null })

    // Importing the same document once more changes nothing.
    const idempotent = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { ...doc, mode: 'replace' } })
    expect(idempotent.json()).toMatchObject({ created: [], updated: [], deleted: [] })
    expect(idempotent.json().unchanged).toHaveLength(2)
  })

  it('merge creates and updates, replace also deletes; dry_run reports without writing', async () => {
    await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    await createMapping(t, { group_id: 'old', discord_role_id: IDS.staffRole })
    const doc = { version: 1, mappings: [{ group_id: 'pilots', discord_role_id: IDS.pilotRole, priority: 9 }, { group_id: 'new', discord_role_id: IDS.staffRole }] }

    const dry = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { ...doc, mode: 'replace', dry_run: true } })
    expect(dry.statusCode).toBe(200)
    expect(dry.json()).toMatchObject({
      dry_run: true,
      applied: false,
      created: [{ mapping_id: null, group_id: 'new', discord_role_id: IDS.staffRole }],
      updated: [expect.objectContaining({ group_id: 'pilots' })],
      deleted: [expect.objectContaining({ group_id: 'old' })]
    })
    expect((await t.app.discord.store.listMappings({ guild_id: IDS.guild })).map((m) => m.group_id).sort()).toEqual(['old', 'pilots'])

    const merge = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: doc })
    expect(merge.json()).toMatchObject({ applied: true, deleted: [] })
    const stored = await t.app.discord.store.listMappings({ guild_id: IDS.guild })
    expect(stored.map((m) => m.group_id).sort()).toEqual(['new', 'old', 'pilots'])
    expect(stored.find((m) => m.group_id === 'pilots')?.priority).toBe(9)
    expect(stored.find((m) => m.group_id === 'new')?.created_by).toBe('admin-1')
  })

  it('one invalid entry rejects the whole import with 422 and the full report; nothing is written', async () => {
    await createMapping(t, { group_id: 'keep', discord_role_id: IDS.pilotRole })
    const before = await t.app.discord.store.listMappings({ guild_id: IDS.guild })
    const res = await t.inject({
      method: 'POST',
      url: `${base}/import`,
      as: 'admin',
      payload: {
        version: 1,
        mode: 'replace',
        mappings: [
          { group_id: 'fine', discord_role_id: IDS.staffRole },
          { group_id: 'high', discord_role_id: IDS.adminsRole },
          { group_id: 'booster', discord_role_id: IDS.boosterRole },
          { group_id: 'fine', discord_role_id: IDS.staffRole }
        ]
      }
    })
    expect(res.statusCode).toBe(422)
    const body = res.json()
    expect(body).toMatchObject({ statusCode: 422, code: 'FST_DISCORD_IMPORT_INVALID', error: 'Unprocessable Entity' })
    expect(body.message).toBe('3 of 4 entries are invalid; nothing was imported')
    expect(body.report.applied).toBe(false)
    expect(body.report.invalid.map((i: { index: number, reason: string }) => [i.index, i.reason])).toEqual([[1, 'role_not_below_bot'], [2, 'managed_role'], [3, 'duplicate_entry']])
    expect(body.report.created).toHaveLength(1)
    expect(body.report.deleted).toHaveLength(1)
    expect(await t.app.discord.store.listMappings({ guild_id: IDS.guild })).toEqual(before)
  })

  it('a dry run of an invalid document answers 200 with the invalid entries listed', async () => {
    const res = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { version: 1, dry_run: true, mappings: [{ group_id: 'x', discord_role_id: IDS.guild }] } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ applied: false, invalid: [{ index: 0, reason: 'everyone_role' }] })
  })

  it.each([
    ['another version', { version: 2, mappings: [] }, 400, 'FST_DISCORD_VALIDATION'],
    ['no version', { mappings: [] }, 400, 'FST_DISCORD_VALIDATION'],
    ['an unknown mode', { version: 1, mode: 'upsert', mappings: [] }, 400, 'FST_DISCORD_VALIDATION'],
    ['an unknown entry field', { version: 1, mappings: [{ group_id: 'g', discord_role_id: IDS.pilotRole, id: 'x' }] }, 400, 'FST_DISCORD_VALIDATION'],
    ['more than 500 entries', { version: 1, mappings: Array.from({ length: 501 }, (_, i) => ({ group_id: `g${i}`, discord_role_id: IDS.pilotRole })) }, 400, 'FST_DISCORD_VALIDATION'],
    ['a document of another guild', { version: 1, guild_id: IDS.noBotGuild, mappings: [] }, 400, 'FST_DISCORD_VALIDATION']
  ])('refuses %s', async (_what, payload, status, code) => {
    const res = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload })
    expect(res.statusCode).toBe(status)
    expect(res.json().code).toBe(code)
  })

  it('import needs the guild\'s bot: without a token 422; a bot that lost Manage Roles makes every entry invalid', async () => {
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, 0n)
    try {
      const res = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { version: 1, mappings: [{ group_id: 'a', discord_role_id: IDS.pilotRole }, { group_id: 'b', discord_role_id: IDS.staffRole }] } })
      expect(res.statusCode).toBe(422)
      expect(res.json().report.invalid.map((i: { reason: string }) => i.reason)).toEqual(['missing_manage_roles', 'missing_manage_roles'])
    } finally {
      sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 28n) | (1n << 10n) | (1n << 11n))
    }
    await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: null } })
    const noToken = await t.inject({ method: 'POST', url: `${base}/import`, as: 'admin', payload: { version: 1, mappings: [] } })
    expect(noToken.statusCode).toBe(422)
    expect(noToken.json().code).toBe('FST_DISCORD_GUILD_NO_BOT_TOKEN')
  })

  it('export of an unconfigured guild is a 404', async () => {
    expect((await t.inject({ url: `/discord/guilds/${IDS.noBotGuild}/role-mappings/export`, as: 'admin' })).statusCode).toBe(404)
  })
})
