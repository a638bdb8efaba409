import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { authorizeAs, bearer, buildWorld, JWT_SECRET, sessionCookie } from '../helpers/world.js'
import { ALICE, authWorld, CLIENT_SECRET, startSimulator } from './helpers.js'

/*
 * Secrets never reach the logs: with the most verbose level, a full login (whose callback URL
 * carries the code and state), a refresh and an unlink leave no code, state, binding cookie, token, session or
 * client secret in any log line.
 */

let sim: DiscordSimulator
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })

describe('logs', () => {
  it('carry no authorisation code, state, Discord token, session JWT or secret', async () => {
    const t = await buildWorld({ ...authWorld(sim, { tokenRefresh: { enabled: true } }), logs: true })
    try {
      const login = (await t.inject({ method: 'GET', url: '/discord/auth/login' })).json()
      const { code, state } = await authorizeAs(sim, login.auth_url, ALICE)
      const binding = t.bindings.get(state)
      const cb = await t.callback({ code, state })
      expect(cb.statusCode).toBe(200)
      const session = sessionCookie(cb)?.value as string
      const tokens = await t.app.discord.store.getUserTokens(ALICE)
      // A refused replay logs too.
      expect((await t.callback({ code, state })).statusCode).toBe(400)
      await t.app.discord.store.setUserTokens(ALICE, { ...(tokens as NonNullable<typeof tokens>), expires_at: new Date(Date.now() + 1000) })
      const refresh = await t.app.discord.tokenRefresh?.run()
      expect(refresh).toMatchObject({ refreshed: 1 })
      const rotated = await t.app.discord.store.getUserTokens(ALICE)
      expect((await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${ALICE}`, headers: bearer(session) })).statusCode).toBe(200)

      const log = t.logLines.join('')
      expect(log).toContain('/discord/auth/callback?code=[redacted]&state=[redacted]')
      expect(log).toContain('discord account linked')
      expect(log).toContain('discord token refresh run')
      const secrets = [code, state, binding, session, JWT_SECRET, CLIENT_SECRET, tokens?.access_token, tokens?.refresh_token, rotated?.access_token, rotated?.refresh_token]
      for (const secret of secrets) {
        expect(typeof secret === 'string' && secret.length > 10).toBe(true)
        expect(log.includes(secret as string), 'a secret reached the logs').toBe(false)
      }
    } finally {
      await t.close()
    }
  })
})
