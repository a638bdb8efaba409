import type { FastifyDiscordSyncOptions } from '../../src/index.js'
import { createDiscordSimulator, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'
import type { OAuthApp, WorldOptions } from '../helpers/world.js'

/*
 * Seed data of the auth suites (the world is test/helpers/world.ts): a simulator with one OAuth
 * app and a few users, and the world options that point the plugin at it.
 */

export const CLIENT_ID = '900000000000000001'
export const CLIENT_SECRET = 'sim-client-secret-value-0123456789'
export const REDIRECT_URI = 'http://127.0.0.1:3999/discord/auth/callback'
export const FRONTEND = 'https://app.example.test/auth/done'
export const AUTH_APP: OAuthApp = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI }

export const ALICE = '100000000000000001'
export const BOB = '100000000000000002'
export const GUILD = '200000000000000001'

export async function startSimulator (options: SimulatorOptions = {}): Promise<DiscordSimulator> {
  const sim = await createDiscordSimulator(options)
  sim.state.addOAuthApp({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI], name: 'Falcon' })
  sim.state.addUser({ id: ALICE, username: 'alice', global_name: 'Alice' })
  sim.state.addUser({ id: BOB, username: 'bob', global_name: 'Bob' })
  sim.state.addGuild({ id: GUILD, name: 'Falcon Guild', owner_id: BOB })
  sim.state.addMember(GUILD, ALICE)
  sim.state.addMember(GUILD, BOB)
  return sim
}

/**
 * World options of the auth suites: the file's simulator (not closed with the world) with the
 * OAuth app, or no Discord at all for `null`; FRONTEND allowed as a redirect. `plugin` is merged
 * over them, and `hooks` (before/after/logger) are passed through.
 */
export function authWorld (
  sim: DiscordSimulator | null,
  plugin: Partial<FastifyDiscordSyncOptions> = {},
  hooks: Pick<WorldOptions, 'before' | 'after' | 'logger'> = {}
): WorldOptions {
  return { ...(sim === null ? { sim: false } : { sim, oauth: AUTH_APP }), frontend: FRONTEND, plugin, ...hooks }
}

/** Callback path (the app's routes are mounted at /discord). */
export function callbackUrl (params: Record<string, string>): string {
  return `/discord/auth/callback?${new URLSearchParams(params).toString()}`
}
