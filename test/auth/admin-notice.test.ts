import { afterEach, describe, expect, it } from 'vitest'
import { buildWorld, type World } from '../helpers/world.js'

/*
 * Issue 15.5: registered without `auth.resolveUser`, nobody who signs in is an admin. The plugin
 * says so once at start-up, naming the options that decide who is.
 */

let t: World | undefined
afterEach(async () => { await t?.close(); t = undefined })

const noticesIn = (lines: string[]): Array<{ msg: string, level: number }> =>
  lines.map((l) => JSON.parse(l) as { msg: string, level: number }).filter((l) => l.msg.startsWith('auth.resolveUser is not set'))

describe('start-up notice on how admins are recognised', () => {
  it('is logged once, at info, naming the admin permission and its claim, when resolveUser is not set', async () => {
    t = await buildWorld({ sim: false, logs: true, plugin: { auth: { adminPermission: 'falcon:discord-admin', permissionsClaim: 'perms' } } })
    await t.app.inject({ url: '/discord/status' })
    await t.app.inject({ url: '/discord/status' })
    const notices = noticesIn(t.logLines)
    expect(notices).toHaveLength(1)
    expect(notices[0]?.level).toBe(30)
    expect(notices[0]?.msg).toContain('"falcon:discord-admin" in its "perms" claim')
    expect(notices[0]?.msg).toContain('`auth.resolveUser(profile, { linkedUserId })`')
  })

  it('names the host\'s isAdmin when one decides', async () => {
    t = await buildWorld({ sim: false, logs: true, plugin: { auth: { isAdmin: () => false } } })
    const notices = noticesIn(t.logLines)
    expect(notices).toHaveLength(1)
    expect(notices[0]?.msg).toContain('`auth.isAdmin(user, request)` returns true')
  })

  it('is not logged when the host maps logins to its users', async () => {
    t = await buildWorld({ sim: false, logs: true, plugin: { auth: { resolveUser: (profile) => ({ id: `u-${profile.id}`, permissions: [] }) } } })
    // A request, so the log is known to be captured: its lines are there, the notice is not.
    await t.app.inject({ url: '/discord/status' })
    expect(t.logLines.length).toBeGreaterThan(0)
    expect(noticesIn(t.logLines)).toEqual([])
  })
})
