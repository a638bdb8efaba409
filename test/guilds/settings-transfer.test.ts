import { afterEach, describe, expect, it } from 'vitest'
import { PermissionFlags } from '../../src/testing/index.js'
import { buildSyncWorld, IDS, type SyncWorld } from '../sync/helpers.js'

/*
 * The mapping export carries the guild's settings (those of issues 13 and 14 included), and an
 * import applies them: checked as a guild save checks them (bad values 400, a permission the bot
 * lacks 422 naming it), and a failed import leaves both the settings and the mappings as they were.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close()
})

const BASE = `/guilds/${IDS.g1}/role-mappings`
const BOT_PERMS = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES

async function world (): Promise<SyncWorld> {
  const w = await buildSyncWorld()
  worlds.push(w)
  await w.guild(IDS.g1, 'Alpha Guild')
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  return w
}

const SETTINGS = {
  sync_on_join: false,
  drift_policy: 'report',
  max_role_changes_per_sync: 25,
  auto_join: true,
  nickname_template: '[{ticker}] {name}',
  on_access_lost: 'kick',
  access_lost_grace: '2d'
}

describe('export', () => {
  it('carries every guild setting, as GET /guilds/{id} shows them', async () => {
    const w = await world()
    await w.store.updateGuild(IDS.g1, { settings: { drift_policy: 'report', access_lost_grace: '1h', on_access_lost: 'none', sync_on_join: false } })
    const doc = await w.call('GET', `${BASE}/export`)
    expect(doc.status).toBe(200)
    const guild = await w.call('GET', `/guilds/${IDS.g1}`)
    expect(doc.body.settings).toEqual(guild.body.settings)
    expect(doc.body.settings).toMatchObject({ drift_policy: 'report', access_lost_grace: '1h', on_access_lost: 'none', sync_on_join: false, auto_join: false, nickname_template: null })
  })
})

describe('import with settings', () => {
  it('applies them with the mappings; a dry run only reports what would change; the export imports back unchanged', async () => {
    const w = await world()
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.CREATE_INSTANT_INVITE | PermissionFlags.MANAGE_NICKNAMES | PermissionFlags.KICK_MEMBERS)
    const doc = (await w.call('GET', `${BASE}/export`)).body
    const dry = await w.call('POST', `${BASE}/import`, { body: { ...doc, settings: { ...doc.settings, ...SETTINGS }, dry_run: true } })
    expect(dry.status).toBe(200)
    expect(dry.body.settings_changed.sort()).toEqual(Object.keys(SETTINGS).map((k) => `settings.${k}`).sort())
    expect((await w.store.getGuild(IDS.g1))?.settings.auto_join).toBe(false)

    const res = await w.call('POST', `${BASE}/import`, { body: { ...doc, settings: { ...doc.settings, ...SETTINGS } } })
    expect(res.status).toBe(200)
    expect(res.body.applied).toBe(true)
    expect((await w.store.getGuild(IDS.g1))?.settings).toMatchObject(SETTINGS)

    const again = (await w.call('GET', `${BASE}/export`)).body
    expect(again.settings).toMatchObject(SETTINGS)
    const back = await w.call('POST', `${BASE}/import`, { body: again })
    expect(back.body).toMatchObject({ applied: true, settings_changed: [], created: [], updated: [], deleted: [] })
  })

  it('a document without settings leaves them as they are', async () => {
    const w = await world()
    await w.store.updateGuild(IDS.g1, { settings: { drift_policy: 'report' } })
    const res = await w.call('POST', `${BASE}/import`, { body: { version: 1, mappings: [{ group_id: 'pilots', discord_role_id: IDS.pilot }] } })
    expect(res.status).toBe(200)
    expect(res.body.settings_changed).toEqual([])
    expect((await w.store.getGuild(IDS.g1))?.settings.drift_policy).toBe('report')
  })

  it.each([
    ['an unknown policy', { on_access_lost: 'ban' }],
    ['an unknown setting', { colour: 'red' }],
    ['a grace over 90 days', { access_lost_grace: '91d' }],
    ['a sync interval under a minute', { sync_interval: '30s' }],
    ['a template with an unknown variable', { nickname_template: '{rank} {name}' }],
    ['a template over 100 characters', { nickname_template: 'x'.repeat(101) }]
  ])('refuses %s with 400 FST_DISCORD_VALIDATION, storing nothing', async (_what, settings) => {
    const w = await world()
    const before = { guild: await w.store.getGuild(IDS.g1), mappings: await w.store.listMappings({ guild_id: IDS.g1 }) }
    const res = await w.call('POST', `${BASE}/import`, { body: { version: 1, mode: 'replace', mappings: [{ group_id: 'corp', discord_role_id: IDS.corp }], settings } })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('FST_DISCORD_VALIDATION')
    expect(await w.store.getGuild(IDS.g1)).toEqual(before.guild)
    expect(await w.store.listMappings({ guild_id: IDS.g1 })).toEqual(before.mappings)
  })

  it.each([
    ['on_access_lost kick without Kick Members', { on_access_lost: 'kick' }, /Kick Members/],
    ['a nickname template without Manage Nicknames', { nickname_template: '{name}' }, /Manage Nicknames/],
    ['auto_join without Create Invite', { auto_join: true }, /Create Invite/]
  ])('refuses %s with 422 naming the permission, as a save does, storing nothing', async (_what, settings, permission) => {
    const w = await world()
    const before = { guild: await w.store.getGuild(IDS.g1), mappings: await w.store.listMappings({ guild_id: IDS.g1 }) }
    const save = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings } })
    const res = await w.call('POST', `${BASE}/import`, { body: { version: 1, mode: 'replace', mappings: [{ group_id: 'corp', discord_role_id: IDS.corp }], settings } })
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('FST_DISCORD_BOT_MISSING_PERMISSION')
    expect(res.body.message).toMatch(permission)
    expect({ status: res.status, code: res.body.code }).toEqual({ status: save.status, code: save.body.code })
    expect(await w.store.getGuild(IDS.g1)).toEqual(before.guild)
    expect(await w.store.listMappings({ guild_id: IDS.g1 })).toEqual(before.mappings)
  })

  it('an invalid mapping entry rejects settings too: nothing is stored', async () => {
    const w = await world()
    const before = await w.store.getGuild(IDS.g1)
    const res = await w.call('POST', `${BASE}/import`, { body: { version: 1, mappings: [{ group_id: 'high', discord_role_id: IDS.admins }], settings: { drift_policy: 'report' } } })
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('FST_DISCORD_IMPORT_INVALID')
    expect(res.body.report.settings_changed).toEqual(['settings.drift_policy'])
    expect(await w.store.getGuild(IDS.g1)).toEqual(before)
  })
})
