import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SecretBox, generateKey } from '../../src/store/crypto.js'
import {
  DEFAULT_GUILD_SETTINGS,
  DEFAULT_MAPPING_CONDITIONS,
  DEFAULT_PAGE_SIZE,
  EMPTY_SYNC_RESULTS,
  MAX_PAGE_SIZE
} from '../../src/store/port/index.js'
import type {
  CreateAuditEntryInput,
  CreateDiscordUserInput,
  CreateRoleMappingInput,
  CreateTaskRunInput,
  DiscordStore,
  DiscordUserRecord,
  OAuthTokens,
  RoleMappingRecord
} from '../../src/store/port/index.js'

/*
 * The one behavioural contract of the store port. Every adapter runs it unchanged
 * (test/store/sqlite.test.ts, the MongoDB suite), so the plugin can treat backends
 * as interchangeable. Nothing here may depend on how a backend stores data: the
 * only window into storage is `rawDump`, used to prove secrets are sealed at rest.
 */

export interface StoreHarness {
  /** A fresh, initialised, empty store (no state shared with other tests). */
  create (secrets: SecretBox): Promise<DiscordStore>
  /**
   * A second, initialised store over the same persisted data as `store`, using
   * `secrets` (used to prove key rotation). `store` stays open; the suite closes both.
   */
  reopen (store: DiscordStore, secrets: SecretBox): Promise<DiscordStore>
  /** Everything the backend persisted, as text (raw file bytes for SQLite, all raw documents as JSON for Mongo), to prove no plaintext secret is stored. */
  rawDump (store: DiscordStore): Promise<string>
}

const CONFLICT = 'FST_DISCORD_CONFLICT'
const NOT_FOUND = 'FST_DISCORD_NOT_FOUND'

interface CodedError { code?: unknown, statusCode?: unknown, message?: unknown }

/** Awaits a promise that must reject and returns the rejection for inspection. */
async function rejectionOf (p: Promise<unknown>): Promise<CodedError> {
  try {
    await p
  } catch (err) {
    return err as CodedError
  }
  throw new Error('expected the operation to reject, but it resolved')
}

async function expectConflict (p: Promise<unknown>, mustNotMention: string[] = []): Promise<void> {
  const err = await rejectionOf(p)
  expect(err.code).toBe(CONFLICT)
  expect(err.statusCode).toBe(409)
  expect(typeof err.message).toBe('string')
  for (const s of mustNotMention) expect(err.message).not.toContain(s)
}

async function expectNotFound (p: Promise<unknown>): Promise<void> {
  const err = await rejectionOf(p)
  expect(err.code).toBe(NOT_FOUND)
  expect(err.statusCode).toBe(404)
}

/**
 * Moves the clock 5 ms on, so the next write is stamped later than the last one, without
 * waiting. Only Date is faked (the suite's afterEach restores it): timers stay real, because
 * a real MongoDB driver needs them.
 */
function later (): void {
  if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
  vi.setSystemTime(Date.now() + 5)
}

let seq = 0
/** Unique Discord-style snowflake per call (unique across the whole run). */
function snowflake (): string {
  seq += 1
  return (100000000000000000n + BigInt(Date.now() % 1_000_000) * 1_000_000n + BigInt(seq)).toString()
}

function byCreatedThenId (a: { created_at: Date, id: string }, b: { created_at: Date, id: string }): number {
  const d = a.created_at.getTime() - b.created_at.getTime()
  if (d !== 0) return d
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

function first<T> (items: readonly T[]): T {
  expect(items.length).toBeGreaterThan(0)
  return items[0] as T
}

export function describeStoreContract (backend: string, harness: StoreHarness): void {
  describe(`store contract: ${backend}`, () => {
    let secrets: SecretBox
    let store: DiscordStore
    const opened: DiscordStore[] = []

    async function open (box: SecretBox): Promise<DiscordStore> {
      const s = await harness.create(box)
      opened.push(s)
      return s
    }

    async function reopen (s: DiscordStore, box: SecretBox): Promise<DiscordStore> {
      const r = await harness.reopen(s, box)
      opened.push(r)
      return r
    }

    beforeEach(async () => {
      secrets = new SecretBox(generateKey())
      store = await open(secrets)
    })

    afterEach(async () => {
      vi.useRealTimers()
      // Reopened stores close first: they may share what the original store opened.
      while (opened.length > 0) await (opened.pop() as DiscordStore).close()
    })

    afterAll(() => {
      console.log(`[store-contract] backend=${backend}: contract suite executed`)
    })

    function userInput (overrides: Partial<CreateDiscordUserInput> = {}): CreateDiscordUserInput {
      return {
        user_id: `host-${randomUUID()}`,
        discord_user_id: snowflake(),
        username: 'pilot',
        ...overrides
      }
    }

    function tokens (overrides: Partial<OAuthTokens> = {}): OAuthTokens {
      return {
        access_token: `access-${randomUUID()}`,
        refresh_token: `refresh-${randomUUID()}`,
        expires_at: new Date(Date.now() + 3_600_000),
        scopes: ['identify', 'guilds'],
        ...overrides
      }
    }

    async function guild (name = 'Guild', botToken: string | null = null): Promise<string> {
      const guildId = snowflake()
      await store.createGuild({ guild_id: guildId, guild_name: name, bot_token: botToken })
      return guildId
    }

    function mappingInput (guildId: string, overrides: Partial<CreateRoleMappingInput> = {}): CreateRoleMappingInput {
      return { guild_id: guildId, group_id: `group-${randomUUID()}`, discord_role_id: snowflake(), ...overrides }
    }

    // ------------------------------------------------------------ lifecycle

    describe('lifecycle', () => {
      it('names its backend, pings, and tolerates a second init()', async () => {
        expect(typeof store.kind).toBe('string')
        expect(store.kind.length).toBeGreaterThan(0)
        await expect(store.ping()).resolves.toBeUndefined()
        await store.init()
        const u = await store.createUser(userInput())
        await store.init()
        expect(await store.getUserByDiscordId(u.discord_user_id)).toEqual(u)
      })
    })

    // ------------------------------------------------------------ users

    describe('discord_users', () => {
      it('creates a user with defaults and reads it back identically', async () => {
        const input = userInput()
        const u = await store.createUser(input)
        expect(typeof u.id).toBe('string')
        expect(u.id.length).toBeGreaterThan(0)
        expect(u).toMatchObject({
          user_id: input.user_id,
          discord_user_id: input.discord_user_id,
          username: 'pilot',
          discriminator: null,
          global_name: null,
          avatar: null,
          scopes: [],
          guilds: [],
          token_expires_at: null,
          has_tokens: false,
          needs_reauth: false,
          last_sync: null,
          is_active: true
        })
        expect(u.created_at).toBeInstanceOf(Date)
        expect(u.updated_at).toBeInstanceOf(Date)
        expect(Math.abs(u.created_at.getTime() - Date.now())).toBeLessThan(60_000)
        expect(await store.getUserByDiscordId(input.discord_user_id)).toEqual(u)
        expect(await store.getUserByDiscordId('does-not-exist')).toBeNull()
      })

      it('derives scopes and token expiry from the tokens it seals', async () => {
        const t = tokens({ scopes: ['identify', 'guilds', 'guilds.join'] })
        const u = await store.createUser(userInput({
          discriminator: '0420',
          global_name: 'Pilot One',
          avatar: 'a_hash',
          is_active: false,
          tokens: t
        }))
        expect(u.scopes).toEqual(['identify', 'guilds', 'guilds.join'])
        expect(u.token_expires_at).toEqual(t.expires_at)
        expect(u.has_tokens).toBe(true)
        expect(u).toMatchObject({ discriminator: '0420', global_name: 'Pilot One', avatar: 'a_hash', is_active: false })
        expect(await store.getUserTokens(u.discord_user_id)).toEqual(t)
      })

      it('round-trips the guild list, including dates and optional fields', async () => {
        const guilds = [
          { id: snowflake(), name: 'Alpha', permissions: '2147483647', owner: true, joined_at: new Date('2024-01-10T10:00:00.000Z') },
          { id: snowflake(), name: 'Beta', permissions: '0', joined_at: null },
          { id: snowflake(), name: 'Gamma', permissions: '8' }
        ]
        const u = await store.createUser(userInput({ guilds }))
        expect(u.guilds).toEqual(guilds)
        const again = await store.getUserByDiscordId(u.discord_user_id)
        expect(again?.guilds).toEqual(guilds)
        expect(first(again?.guilds ?? []).joined_at).toBeInstanceOf(Date)
      })

      it('updates only the fields given and reports unknown users with null', async () => {
        const u = await store.createUser(userInput({ global_name: 'Keep Me', avatar: 'old' }))
        later()
        const lastSync = new Date('2025-03-01T12:00:00.000Z')
        const updated = await store.updateUser(u.discord_user_id, {
          username: 'renamed',
          avatar: null,
          needs_reauth: true,
          last_sync: lastSync,
          is_active: false
        })
        expect(updated).not.toBeNull()
        expect(updated).toMatchObject({
          id: u.id,
          username: 'renamed',
          global_name: 'Keep Me',
          avatar: null,
          needs_reauth: true,
          is_active: false,
          user_id: u.user_id
        })
        expect(updated?.last_sync).toEqual(lastSync)
        expect(updated?.created_at).toEqual(u.created_at)
        expect(updated?.updated_at.getTime()).toBeGreaterThan(u.updated_at.getTime())
        expect(await store.getUserByDiscordId(u.discord_user_id)).toEqual(updated)
        expect(await store.updateUser('does-not-exist', { username: 'x' })).toBeNull()
      })

      it('deletes a user and its tokens', async () => {
        const u = await store.createUser(userInput({ tokens: tokens() }))
        expect(await store.deleteUser(u.discord_user_id)).toBe(true)
        expect(await store.getUserByDiscordId(u.discord_user_id)).toBeNull()
        expect(await store.getUserTokens(u.discord_user_id)).toBeNull()
        expect(await store.deleteUser(u.discord_user_id)).toBe(false)
        // The discord id is free again once deleted.
        const again = await store.createUser(userInput({ discord_user_id: u.discord_user_id }))
        expect(again.id).not.toBe(u.id)
      })

      it('lists every link of one host user', async () => {
        const a = await store.createUser(userInput({ user_id: 'host-a' }))
        const b = await store.createUser(userInput({ user_id: 'host-a' }))
        await store.createUser(userInput({ user_id: 'host-b' }))
        const links = await store.listUsersByUserId('host-a')
        expect(links.map((l) => l.id).sort()).toEqual([a.id, b.id].sort())
        expect(await store.listUsersByUserId('host-none')).toEqual([])
      })

      it('finds the links among a set of Discord ids in one call', async () => {
        const a = await store.createUser(userInput())
        const b = await store.createUser(userInput({ is_active: false }))
        await store.createUser(userInput())
        const found = await store.listUsersByDiscordIds([a.discord_user_id, snowflake(), b.discord_user_id, a.discord_user_id])
        expect(found.map((u) => u.discord_user_id).sort()).toEqual([a.discord_user_id, b.discord_user_id].sort())
        expect(found.find((u) => u.id === a.id)).toEqual(await store.getUserByDiscordId(a.discord_user_id))
        expect(found.find((u) => u.id === b.id)?.is_active).toBe(false)
        expect(await store.listUsersByDiscordIds([])).toEqual([])
      })

      it('looks up more Discord ids than one SQL statement binds (a full members page and more)', async () => {
        const made: string[] = []
        for (let i = 0; i < 30; i++) made.push((await store.createUser(userInput())).discord_user_id)
        const query = [...Array.from({ length: 1200 }, () => snowflake()), ...made]
        const found = await store.listUsersByDiscordIds(query)
        expect(found.map((u) => u.discord_user_id).sort()).toEqual([...made].sort())
      })

      it('counts users, optionally by activity', async () => {
        await store.createUser(userInput())
        await store.createUser(userInput())
        await store.createUser(userInput({ is_active: false }))
        expect(await store.countUsers()).toBe(3)
        expect(await store.countUsers({})).toBe(3)
        expect(await store.countUsers({ is_active: true })).toBe(2)
        expect(await store.countUsers({ is_active: false })).toBe(1)
      })

      it('rejects a duplicate discord_user_id with a conflict and keeps the original', async () => {
        const u = await store.createUser(userInput({ username: 'original', tokens: tokens() }))
        const secret = `dup-access-${randomUUID()}`
        await expectConflict(
          store.createUser(userInput({ discord_user_id: u.discord_user_id, username: 'intruder', tokens: tokens({ access_token: secret }) })),
          [secret]
        )
        expect(await store.getUserByDiscordId(u.discord_user_id)).toEqual(u)
        expect((await store.getUserTokens(u.discord_user_id))?.access_token).not.toBe(secret)
        expect(await store.countUsers()).toBe(1)
      })

      it('replaces tokens, refreshing scopes and expiry and clearing needs_reauth', async () => {
        const u = await store.createUser(userInput({ tokens: tokens() }))
        await store.updateUser(u.discord_user_id, { needs_reauth: true })
        const next = tokens({ scopes: ['identify'], expires_at: new Date('2030-01-01T00:00:00.000Z') })
        expect(await store.setUserTokens(u.discord_user_id, next)).toBe(true)
        expect(await store.getUserTokens(u.discord_user_id)).toEqual(next)
        const after = await store.getUserByDiscordId(u.discord_user_id)
        expect(after).toMatchObject({ scopes: ['identify'], needs_reauth: false, has_tokens: true })
        expect(after?.token_expires_at).toEqual(next.expires_at)
        expect(await store.setUserTokens('does-not-exist', next)).toBe(false)
      })

      it('clears tokens when set to null', async () => {
        const u = await store.createUser(userInput({ tokens: tokens() }))
        expect(await store.setUserTokens(u.discord_user_id, null)).toBe(true)
        expect(await store.getUserTokens(u.discord_user_id)).toBeNull()
        const after = await store.getUserByDiscordId(u.discord_user_id)
        expect(after?.has_tokens).toBe(false)
        expect(after?.token_expires_at).toBeNull()
        expect(after?.scopes).toEqual([])
      })

      it('keeps needs_reauth when tokens are cleared (a failed refresh must stay visible)', async () => {
        const u = await store.createUser(userInput({ tokens: tokens() }))
        await store.updateUser(u.discord_user_id, { needs_reauth: true })
        expect(await store.setUserTokens(u.discord_user_id, null)).toBe(true)
        expect((await store.getUserByDiscordId(u.discord_user_id))?.needs_reauth).toBe(true)
      })

      it('keeps an access token without a refresh token, and has_tokens tracks the refresh token', async () => {
        const t = tokens({ refresh_token: null, expires_at: null })
        const u = await store.createUser(userInput({ tokens: t }))
        expect(u.has_tokens).toBe(false)
        expect(u.token_expires_at).toBeNull()
        expect(await store.getUserTokens(u.discord_user_id)).toEqual(t)
        expect(await store.getUserTokens('does-not-exist')).toBeNull()
      })

      it('lists refreshable users expiring before a date, oldest expiry first, skipping the ineligible', async () => {
        const now = Date.now()
        const at = (mins: number): Date => new Date(now + mins * 60_000)
        const soon2 = await store.createUser(userInput({ tokens: tokens({ expires_at: at(20) }) }))
        const soon1 = await store.createUser(userInput({ tokens: tokens({ expires_at: at(10) }) }))
        const expired = await store.createUser(userInput({ tokens: tokens({ expires_at: at(-30) }) }))
        const soon3 = await store.createUser(userInput({ tokens: tokens({ expires_at: at(30) }) }))
        await store.createUser(userInput({ tokens: tokens({ expires_at: at(600) }) })) // not due yet
        const reauth = await store.createUser(userInput({ tokens: tokens({ expires_at: at(5) }) }))
        await store.updateUser(reauth.discord_user_id, { needs_reauth: true })
        await store.createUser(userInput({ is_active: false, tokens: tokens({ expires_at: at(5) }) }))
        await store.createUser(userInput({ tokens: tokens({ refresh_token: null, expires_at: at(5) }) }))
        await store.createUser(userInput()) // no tokens at all

        const due = await store.listUsersWithTokensExpiringBefore(at(60), 10)
        expect(due.map((u) => u.discord_user_id)).toEqual([
          expired.discord_user_id, soon1.discord_user_id, soon2.discord_user_id, soon3.discord_user_id
        ])
        const limited = await store.listUsersWithTokensExpiringBefore(at(60), 2)
        expect(limited.map((u) => u.discord_user_id)).toEqual([expired.discord_user_id, soon1.discord_user_id])
        expect(await store.listUsersWithTokensExpiringBefore(at(-60), 10)).toEqual([])
      })
    })

    // ------------------------------------------------------------ pagination

    describe('listUsers pagination and filters', () => {
      async function seedUsers (n: number, make: (i: number) => Partial<CreateDiscordUserInput> = () => ({})): Promise<DiscordUserRecord[]> {
        const out: DiscordUserRecord[] = []
        for (let i = 0; i < n; i++) out.push(await store.createUser(userInput(make(i))))
        return out
      }

      it('pages in a stable created_at, id order with no duplicates or gaps', async () => {
        const users = await seedUsers(23)
        const expected = [...users].sort(byCreatedThenId).map((u) => u.id)
        const seen: string[] = []
        for (let page = 1; page <= 4; page++) {
          const p = await store.listUsers({ page, page_size: 7 })
          expect(p.total).toBe(23)
          expect(p.page).toBe(page)
          expect(p.page_size).toBe(7)
          expect(p.items.length).toBe(page < 4 ? 7 : 2)
          seen.push(...p.items.map((u) => u.id))
        }
        expect(seen).toEqual(expected)
        expect(new Set(seen).size).toBe(23)
        // Reading the same page again gives the same items.
        const again = await store.listUsers({ page: 2, page_size: 7 })
        expect(again.items.map((u) => u.id)).toEqual(expected.slice(7, 14))
        const beyond = await store.listUsers({ page: 9, page_size: 7 })
        expect(beyond.items).toEqual([])
        expect(beyond.total).toBe(23)
      })

      it('returns full records equal to what get returns', async () => {
        const [u] = await seedUsers(1, () => ({ guilds: [{ id: snowflake(), name: 'G', permissions: '1' }], tokens: tokens() }))
        const p = await store.listUsers()
        expect(p.items).toEqual([u])
      })

      it('defaults to page 1 of DEFAULT_PAGE_SIZE and clamps page_size to MAX_PAGE_SIZE', async () => {
        await seedUsers(MAX_PAGE_SIZE + 5)
        const def = await store.listUsers()
        expect(def.page).toBe(1)
        expect(def.page_size).toBe(DEFAULT_PAGE_SIZE)
        expect(def.items.length).toBe(DEFAULT_PAGE_SIZE)
        expect(def.total).toBe(MAX_PAGE_SIZE + 5)

        const big = await store.listUsers({ page_size: 1000 })
        expect(big.page_size).toBe(MAX_PAGE_SIZE)
        expect(big.items.length).toBe(MAX_PAGE_SIZE)
        const rest = await store.listUsers({ page: 2, page_size: 1000 })
        expect(rest.items.length).toBe(5)
        expect(new Set([...big.items, ...rest.items].map((u) => u.id)).size).toBe(MAX_PAGE_SIZE + 5)

        const silly = await store.listUsers({ page: 0, page_size: -3 })
        expect(silly.page).toBe(1)
        expect(silly.page_size).toBe(DEFAULT_PAGE_SIZE)
      })

      it('filters by is_active and user_id, with totals that match the filter', async () => {
        const users = await seedUsers(9, (i) => ({ is_active: i % 3 !== 0, user_id: i < 4 ? 'host-x' : `host-${i}` }))
        const active = await store.listUsers({ is_active: true, page_size: 100 })
        expect(active.total).toBe(6)
        expect(active.items.map((u) => u.id)).toEqual(users.filter((u) => u.is_active).sort(byCreatedThenId).map((u) => u.id))
        const inactive = await store.listUsers({ is_active: false, page_size: 2, page: 2 })
        expect(inactive.total).toBe(3)
        expect(inactive.items.length).toBe(1)
        const host = await store.listUsers({ user_id: 'host-x', is_active: true })
        // i = 1, 2 are active and belong to host-x (0 and 3 are inactive).
        expect(host.items.map((u) => u.id).sort()).toEqual([users[1]?.id, users[2]?.id].sort())
        expect(host.total).toBe(2)
      })

      it('filters by guild membership and follows guild list changes and deletions', async () => {
        const g1 = snowflake()
        const g2 = snowflake()
        const summary = (id: string): { id: string, name: string, permissions: string } => ({ id, name: `g-${id}`, permissions: '0' })
        const a = await store.createUser(userInput({ guilds: [summary(g1), summary(g2)] }))
        const b = await store.createUser(userInput({ guilds: [summary(g1)] }))
        const c = await store.createUser(userInput({ guilds: [summary(g2)], is_active: false }))
        await store.createUser(userInput())

        const inG1 = await store.listUsers({ guild_id: g1 })
        expect(inG1.items.map((u) => u.id)).toEqual([a, b].sort(byCreatedThenId).map((u) => u.id))
        expect(inG1.total).toBe(2)
        const inG2Active = await store.listUsers({ guild_id: g2, is_active: true })
        expect(inG2Active.items.map((u) => u.id)).toEqual([a.id])
        expect(inG2Active.total).toBe(1)

        await store.updateUser(b.discord_user_id, { guilds: [summary(g2)] })
        await store.updateUser(a.discord_user_id, { guilds: [] })
        expect((await store.listUsers({ guild_id: g1 })).total).toBe(0)
        const inG2 = await store.listUsers({ guild_id: g2 })
        expect(inG2.items.map((u) => u.id)).toEqual([b, c].sort(byCreatedThenId).map((u) => u.id))

        await store.deleteUser(c.discord_user_id)
        const afterDelete = await store.listUsers({ guild_id: g2 })
        expect(afterDelete.items.map((u) => u.id)).toEqual([b.id])
        expect((await store.listUsers({ guild_id: 'no-such-guild' })).items).toEqual([])
      })
    })

    // ------------------------------------------------------------ guilds

    describe('discord_guild_configs', () => {
      it('creates a guild with default settings and reads it back', async () => {
        const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Home' })
        expect(g).toMatchObject({
          guild_name: 'Home',
          enabled: true,
          settings: { ...DEFAULT_GUILD_SETTINGS },
          has_bot_token: false,
          bot_permissions: null,
          bot_user_id: null,
          owner_id: null,
          health_status: 'unknown',
          last_health_check: null,
          last_error: null
        })
        expect(typeof g.id).toBe('string')
        expect(g.created_at).toBeInstanceOf(Date)
        expect(await store.getGuild(g.guild_id)).toEqual(g)
        expect(await store.getGuild('does-not-exist')).toBeNull()
      })

      it('merges partial settings over the defaults and stores every field', async () => {
        const checked = new Date('2025-02-02T02:02:02.000Z')
        const g = await store.createGuild({
          guild_id: snowflake(),
          guild_name: 'Configured',
          enabled: false,
          settings: { sync_interval: '1h', audit_channel_id: '555' },
          bot_permissions: '268435456',
          bot_user_id: '999',
          owner_id: 'host-owner',
          health_status: 'degraded',
          last_health_check: checked,
          last_error: 'missing Manage Roles'
        })
        expect(g.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, sync_interval: '1h', audit_channel_id: '555' })
        expect(g).toMatchObject({ enabled: false, bot_permissions: '268435456', bot_user_id: '999', owner_id: 'host-owner', health_status: 'degraded', last_error: 'missing Manage Roles' })
        expect(g.last_health_check).toEqual(checked)
        expect(await store.getGuild(g.guild_id)).toEqual(g)
      })

      it('updates fields and merges settings over the stored ones', async () => {
        const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Before', settings: { sync_interval: '5m' } })
        later()
        const checked = new Date('2025-05-05T05:05:05.000Z')
        const u = await store.updateGuild(g.guild_id, {
          guild_name: 'After',
          settings: { auto_sync: false },
          health_status: 'healthy',
          last_health_check: checked,
          last_error: null
        })
        expect(u).toMatchObject({ id: g.id, guild_name: 'After', health_status: 'healthy' })
        expect(u?.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, sync_interval: '5m', auto_sync: false })
        expect(u?.last_health_check).toEqual(checked)
        expect(u?.created_at).toEqual(g.created_at)
        expect(u?.updated_at.getTime()).toBeGreaterThan(g.updated_at.getTime())
        expect(await store.getGuild(g.guild_id)).toEqual(u)
        expect(await store.updateGuild('does-not-exist', { guild_name: 'x' })).toBeNull()
      })

      it('keeps a stored setting a patch leaves undefined, and stores no key it does not know', async () => {
        // Callers build patches from optional fields: an undefined value means "not given", never "reset".
        const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Merge', settings: { auto_sync: false, colour: 'red' } as Partial<typeof DEFAULT_GUILD_SETTINGS> })
        expect(g.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, auto_sync: false })
        const u = await store.updateGuild(g.guild_id, { settings: { auto_sync: undefined, sync_interval: '5m', shape: 'round' } as Partial<typeof DEFAULT_GUILD_SETTINGS> })
        expect(u?.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, auto_sync: false, sync_interval: '5m' })
        expect(await store.getGuild(g.guild_id)).toEqual(u)
        const dump = JSON.stringify(await store.listGuilds())
        for (const unknown of ['colour', 'shape']) expect(dump).not.toContain(unknown)
      })

      it('lists guilds by name then guild_id, optionally by enabled', async () => {
        const ids = [snowflake(), snowflake(), snowflake(), snowflake()]
        await store.createGuild({ guild_id: ids[3] as string, guild_name: 'Bravo' })
        await store.createGuild({ guild_id: ids[1] as string, guild_name: 'Alpha', enabled: false })
        await store.createGuild({ guild_id: ids[0] as string, guild_name: 'Alpha' })
        await store.createGuild({ guild_id: ids[2] as string, guild_name: 'Charlie' })
        const all = await store.listGuilds()
        expect(all.map((g) => g.guild_id)).toEqual([ids[0], ids[1], ids[3], ids[2]])
        expect((await store.listGuilds({ enabled: true })).map((g) => g.guild_id)).toEqual([ids[0], ids[3], ids[2]])
        expect((await store.listGuilds({ enabled: false })).map((g) => g.guild_id)).toEqual([ids[1]])
      })

      it('rejects a duplicate guild_id with a conflict and keeps the original', async () => {
        const token = `bot-${randomUUID()}`
        const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'First', bot_token: token })
        const other = `bot-${randomUUID()}`
        await expectConflict(store.createGuild({ guild_id: g.guild_id, guild_name: 'Second', bot_token: other }), [token, other])
        expect(await store.getGuild(g.guild_id)).toEqual(g)
        expect(await store.getBotToken(g.guild_id)).toBe(token)
        expect((await store.listGuilds()).length).toBe(1)
      })

      it('deletes a guild with its mappings and reports how many went with it', async () => {
        const gone = await guild('Gone')
        const kept = await guild('Kept')
        await store.createMapping(mappingInput(gone))
        await store.createMapping(mappingInput(gone))
        await store.createMapping(mappingInput(gone))
        const survivor = await store.createMapping(mappingInput(kept))
        expect(await store.deleteGuild(gone)).toEqual({ deleted: true, mappings_deleted: 3 })
        expect(await store.getGuild(gone)).toBeNull()
        expect(await store.listMappings({ guild_id: gone })).toEqual([])
        expect(await store.listMappings()).toEqual([survivor])
        expect(await store.deleteGuild(gone)).toEqual({ deleted: false, mappings_deleted: 0 })
        // A guild re-created under the same id starts with no mappings.
        await store.createGuild({ guild_id: gone, guild_name: 'Back' })
        expect(await store.countMappings({ guild_id: gone })).toBe(0)
      })
    })

    // ------------------------------------------------------------ bot token

    describe('bot tokens', () => {
      it('seals on create, replaces on update, keeps when omitted, removes with null', async () => {
        const t1 = `MTk4.bot-one-${randomUUID()}`
        const t2 = `MTk4.bot-two-${randomUUID()}`
        const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Botted', bot_token: t1 })
        expect(g.has_bot_token).toBe(true)
        expect(await store.getBotToken(g.guild_id)).toBe(t1)

        const u1 = await store.updateGuild(g.guild_id, { bot_token: t2 })
        expect(u1?.has_bot_token).toBe(true)
        expect(await store.getBotToken(g.guild_id)).toBe(t2)

        const u2 = await store.updateGuild(g.guild_id, { guild_name: 'Renamed' })
        expect(u2?.has_bot_token).toBe(true)
        expect(await store.getBotToken(g.guild_id)).toBe(t2)

        const u3 = await store.updateGuild(g.guild_id, { bot_token: null })
        expect(u3?.has_bot_token).toBe(false)
        expect(await store.getBotToken(g.guild_id)).toBeNull()
        expect(await store.getBotToken('does-not-exist')).toBeNull()
      })
    })

    // ------------------------------------------------------------ mappings

    describe('discord_role_mappings', () => {
      it('creates a mapping with defaults and reads it back', async () => {
        const gid = await guild()
        const m = await store.createMapping({ guild_id: gid, group_id: 'grp', discord_role_id: '77' })
        expect(m).toMatchObject({
          guild_id: gid,
          group_id: 'grp',
          group_name: null,
          discord_role_id: '77',
          discord_role_name: null,
          conditions: { ...DEFAULT_MAPPING_CONDITIONS },
          priority: 1,
          exclusive_set: null,
          enabled: true,
          created_by: null,
          last_sync: null,
          sync_count: 0
        })
        expect(m.created_at).toBeInstanceOf(Date)
        expect(await store.getMapping(m.id)).toEqual(m)
        expect(await store.getMapping('does-not-exist')).toBeNull()
      })

      it('stores every field and merges partial conditions over the defaults', async () => {
        const gid = await guild()
        const m = await store.createMapping({
          guild_id: gid,
          group_id: 'pilots',
          group_name: 'EVE Pilots',
          discord_role_id: '88',
          discord_role_name: 'Pilot',
          conditions: { character_count_min: 1, required_permissions: ['fly'] },
          priority: 3,
          exclusive_set: 'rank',
          enabled: false,
          created_by: 'host-admin'
        })
        expect(m).toMatchObject({ group_name: 'EVE Pilots', discord_role_name: 'Pilot', priority: 3, exclusive_set: 'rank', enabled: false, created_by: 'host-admin' })
        expect(m.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, character_count_min: 1, required_permissions: ['fly'] })
        expect(await store.getMapping(m.id)).toEqual(m)
      })

      it('refuses a mapping for an unknown guild', async () => {
        await expectNotFound(store.createMapping(mappingInput('no-such-guild')))
        expect(await store.countMappings()).toBe(0)
      })

      it('lists by guild_id, priority, id with filters, and counts the same way', async () => {
        const g1 = await guild()
        const g2 = await guild()
        const a = await store.createMapping(mappingInput(g1, { priority: 2 }))
        const b = await store.createMapping(mappingInput(g1, { priority: 1, enabled: false }))
        const c = await store.createMapping(mappingInput(g1, { priority: 2 }))
        const d = await store.createMapping(mappingInput(g2, { priority: 5 }))
        const sortKey = (m: RoleMappingRecord): string => `${m.guild_id}|${String(m.priority).padStart(6, '0')}|${m.id}`
        const expectedAll = [a, b, c, d].sort((x, y) => sortKey(x) < sortKey(y) ? -1 : 1)
        expect(await store.listMappings()).toEqual(expectedAll)
        expect((await store.listMappings({ guild_id: g1 })).map((m) => m.id)).toEqual(expectedAll.filter((m) => m.guild_id === g1).map((m) => m.id))
        expect((await store.listMappings({ guild_id: g1, enabled: true })).map((m) => m.id)).toEqual(expectedAll.filter((m) => m.guild_id === g1 && m.enabled).map((m) => m.id))
        expect((await store.listMappings({ enabled: false })).map((m) => m.id)).toEqual([b.id])
        expect(await store.countMappings()).toBe(4)
        expect(await store.countMappings({ guild_id: g1 })).toBe(3)
        expect(await store.countMappings({ guild_id: g1, enabled: true })).toBe(2)
        expect(await store.countMappings({ enabled: false })).toBe(1)
      })

      it('updates a mapping, merging conditions, and reports unknown ids with null', async () => {
        const gid = await guild()
        const m = await store.createMapping(mappingInput(gid, { conditions: { require_all: true } }))
        later()
        const u = await store.updateMapping(m.id, {
          group_name: 'Renamed',
          conditions: { excluded_groups: ['banned'] },
          priority: 9,
          exclusive_set: 'tier',
          enabled: false
        })
        expect(u).toMatchObject({ id: m.id, group_id: m.group_id, group_name: 'Renamed', priority: 9, exclusive_set: 'tier', enabled: false })
        expect(u?.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, require_all: true, excluded_groups: ['banned'] })
        expect(u?.updated_at.getTime()).toBeGreaterThan(m.updated_at.getTime())
        expect(await store.getMapping(m.id)).toEqual(u)
        expect(await store.updateMapping('does-not-exist', { priority: 2 })).toBeNull()
      })

      it('keeps stored conditions a patch leaves undefined, and stores no key it does not know', async () => {
        const gid = await guild()
        const m = await store.createMapping(mappingInput(gid, { conditions: { require_all: true, weight: 3 } as Partial<typeof DEFAULT_MAPPING_CONDITIONS> }))
        expect(m.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, require_all: true })
        const u = await store.updateMapping(m.id, { conditions: { require_all: undefined, character_count_min: 2, note: 'x' } as Partial<typeof DEFAULT_MAPPING_CONDITIONS> })
        expect(u?.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, require_all: true, character_count_min: 2 })
        expect(await store.getMapping(m.id)).toEqual(u)
        const dump = JSON.stringify(await store.listMappings())
        for (const unknown of ['weight', 'note']) expect(dump).not.toContain(`"${unknown}"`)
      })

      it('deletes a mapping', async () => {
        const gid = await guild()
        const m = await store.createMapping(mappingInput(gid))
        expect(await store.deleteMapping(m.id)).toBe(true)
        expect(await store.getMapping(m.id)).toBeNull()
        expect(await store.deleteMapping(m.id)).toBe(false)
      })

      it('enforces one mapping per (guild_id, group_id, discord_role_id) on create and update', async () => {
        const g1 = await guild()
        const g2 = await guild()
        const m = await store.createMapping(mappingInput(g1, { group_id: 'grp', discord_role_id: '1', group_name: 'Original' }))
        await expectConflict(store.createMapping(mappingInput(g1, { group_id: 'grp', discord_role_id: '1', group_name: 'Dup' })))
        expect(await store.getMapping(m.id)).toEqual(m)
        expect(await store.countMappings()).toBe(1)

        // Same group with another role, and the same pair in another guild, are distinct.
        const other = await store.createMapping(mappingInput(g1, { group_id: 'grp', discord_role_id: '2' }))
        await store.createMapping(mappingInput(g2, { group_id: 'grp', discord_role_id: '1' }))

        await expectConflict(store.updateMapping(other.id, { discord_role_id: '1' }))
        expect(await store.getMapping(other.id)).toEqual(other)
      })

      it('records syncs by incrementing sync_count and setting last_sync', async () => {
        const gid = await guild()
        const a = await store.createMapping(mappingInput(gid))
        const b = await store.createMapping(mappingInput(gid))
        const c = await store.createMapping(mappingInput(gid))
        const t1 = new Date('2025-06-01T00:00:00.000Z')
        const t2 = new Date('2025-06-02T00:00:00.000Z')
        await store.recordMappingSync([a.id, b.id], t1)
        await store.recordMappingSync([a.id, 'does-not-exist'], t2)
        await store.recordMappingSync([], t2)
        const [ra, rb, rc] = await Promise.all([store.getMapping(a.id), store.getMapping(b.id), store.getMapping(c.id)])
        expect(ra?.sync_count).toBe(2)
        expect(ra?.last_sync).toEqual(t2)
        expect(rb?.sync_count).toBe(1)
        expect(rb?.last_sync).toEqual(t1)
        expect(rc?.sync_count).toBe(0)
        expect(rc?.last_sync).toBeNull()
      })

      it('applies a batch of creates, updates and deletes', async () => {
        const gid = await guild()
        const keep = await store.createMapping(mappingInput(gid, { priority: 1 }))
        const change = await store.createMapping(mappingInput(gid, { priority: 2 }))
        const drop = await store.createMapping(mappingInput(gid, { priority: 3 }))
        const result = await store.applyMappingBatch(gid, {
          create: [mappingInput(gid, { group_id: 'new-1', priority: 4 }), mappingInput(gid, { group_id: 'new-2', priority: 5 })],
          update: [{ id: change.id, patch: { priority: 7, group_name: 'Changed' } }],
          delete: [drop.id]
        })
        expect(result.created.map((m) => m.group_id)).toEqual(['new-1', 'new-2'])
        expect(result.updated.map((m) => [m.id, m.priority, m.group_name])).toEqual([[change.id, 7, 'Changed']])
        expect(result.deleted).toEqual([drop.id])
        const now = await store.listMappings({ guild_id: gid })
        expect(now.map((m) => m.id).sort()).toEqual([keep.id, change.id, ...result.created.map((m) => m.id)].sort())
        for (const m of [...result.created, ...result.updated]) expect(await store.getMapping(m.id)).toEqual(m)
      })

      it('leaves everything unchanged when the last operation of a batch conflicts', async () => {
        const gid = await guild()
        const existing = await store.createMapping(mappingInput(gid, { group_id: 'taken', discord_role_id: '10' }))
        const toChange = await store.createMapping(mappingInput(gid))
        const toDrop = await store.createMapping(mappingInput(gid))
        const before = await store.listMappings()
        await expectConflict(store.applyMappingBatch(gid, {
          create: [
            mappingInput(gid, { group_id: 'fresh' }),
            mappingInput(gid, { group_id: 'taken', discord_role_id: '10' })
          ],
          update: [{ id: toChange.id, patch: { priority: 50 } }],
          delete: [toDrop.id]
        }))
        expect(await store.listMappings()).toEqual(before)
        expect(await store.getMapping(existing.id)).toEqual(existing)
      })

      it('rejects conflicts inside one batch atomically', async () => {
        const gid = await guild()
        const before = await store.listMappings()
        await expectConflict(store.applyMappingBatch(gid, {
          create: [mappingInput(gid, { group_id: 'twin', discord_role_id: '5' }), mappingInput(gid, { group_id: 'twin', discord_role_id: '5' })],
          update: [],
          delete: []
        }))
        expect(await store.listMappings()).toEqual(before)
      })

      it('refuses a batch touching another guild or an unknown guild, changing nothing', async () => {
        const g1 = await guild()
        const g2 = await guild()
        const mine = await store.createMapping(mappingInput(g1))
        const theirs = await store.createMapping(mappingInput(g2))
        const before = await store.listMappings()

        await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1)], update: [{ id: theirs.id, patch: { priority: 9 } }], delete: [] }))
        await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1)], update: [], delete: [theirs.id] }))
        await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1)], update: [], delete: ['does-not-exist'] }))
        await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1), mappingInput(g2)], update: [], delete: [mine.id] }))
        await expectNotFound(store.applyMappingBatch('no-such-guild', { create: [mappingInput('no-such-guild')], update: [], delete: [] }))
        expect(await store.listMappings()).toEqual(before)
      })
    })

    // ------------------------------------------------------------ sync runs

    describe('discord_sync_status', () => {
      it('creates a run with defaults and reads it back', async () => {
        const r = await store.createSyncRun({ sync_type: 'guild', target_id: '123', initiated_by: 'system' })
        expect(r).toMatchObject({
          sync_type: 'guild',
          target_id: '123',
          status: 'pending',
          dry_run: false,
          force: false,
          started_at: null,
          completed_at: null,
          duration: null,
          results: { ...EMPTY_SYNC_RESULTS, errors: [] },
          initiated_by: 'system'
        })
        expect(r.created_at).toBeInstanceOf(Date)
        expect(await store.getSyncRun(r.id)).toEqual(r)
        expect(await store.getSyncRun('does-not-exist')).toBeNull()

        const started = new Date('2025-01-01T00:00:00.000Z')
        const full = await store.createSyncRun({ sync_type: 'full', status: 'running', dry_run: true, force: true, started_at: started, initiated_by: 'host-admin' })
        expect(full).toMatchObject({ target_id: null, status: 'running', dry_run: true, force: true })
        expect(full.started_at).toEqual(started)
        expect(await store.getSyncRun(full.id)).toEqual(full)
      })

      it('updates a run, round-tripping results with dated errors', async () => {
        const r = await store.createSyncRun({ sync_type: 'user', target_id: 'host-1', initiated_by: 'host-1' })
        const occurred = new Date('2025-07-07T07:07:07.000Z')
        const results = {
          users_processed: 3,
          users_synced: 2,
          users_failed: 1,
          roles_added: 4,
          roles_removed: 1,
          guilds_processed: 1,
          errors: [{ user_id: 'host-1', discord_user_id: '42', guild_id: '7', error: 'Missing Permissions', code: 50013, occurred_at: occurred }]
        }
        const done = new Date('2025-07-07T07:08:00.000Z')
        const heartbeat = new Date('2025-07-07T07:07:30.000Z')
        const u = await store.updateSyncRun(r.id, { status: 'completed', completed_at: done, duration: 53_000, heartbeat_at: heartbeat, results })
        expect(u).toMatchObject({ id: r.id, status: 'completed', duration: 53_000, results })
        expect(u?.completed_at).toEqual(done)
        expect(u?.heartbeat_at).toEqual(heartbeat)
        expect(first(u?.results.errors ?? []).occurred_at).toBeInstanceOf(Date)
        expect(await store.getSyncRun(r.id)).toEqual(u)
        expect(await store.updateSyncRun('does-not-exist', { status: 'failed' })).toBeNull()
      })

      it('round-trips the per-guild breakdown of a run, and leaves it absent when never set', async () => {
        const r = await store.createSyncRun({ sync_type: 'full', initiated_by: 'system' })
        expect(r.results.guilds).toBeUndefined()
        const guilds = [
          { guild_id: '1200000000000000001', status: 'blocked' as const, members_scanned: 1000, members_to_change: 150, planned_changes: 160, blocked_changes: 2, roles_added: 0, roles_removed: 0, members_failed: 0, reason: '160 planned changes exceed max_role_changes_per_sync (100)' },
          { guild_id: '1200000000000000002', status: 'completed' as const, members_scanned: 10, members_to_change: 1, planned_changes: 1, blocked_changes: 0, roles_added: 1, roles_removed: 0, members_failed: 0, reason: null }
        ]
        const u = await store.updateSyncRun(r.id, { status: 'blocked', results: { ...EMPTY_SYNC_RESULTS, errors: [], guilds } })
        expect(u?.results.guilds).toEqual(guilds)
        expect((await store.getSyncRun(r.id))?.results.guilds).toEqual(guilds)
        expect((await store.listSyncRuns({ status: 'blocked' }))[0]?.results.guilds).toEqual(guilds)
      })

      it('lists newest first with filters and a clamped limit', async () => {
        const a = await store.createSyncRun({ sync_type: 'guild', target_id: 'g1', initiated_by: 'system' })
        later()
        const b = await store.createSyncRun({ sync_type: 'user', target_id: 'u1', status: 'running', initiated_by: 'system' })
        later()
        const c = await store.createSyncRun({ sync_type: 'guild', target_id: 'g2', status: 'completed', initiated_by: 'system' })
        later()
        const d = await store.createSyncRun({ sync_type: 'guild', target_id: 'g1', status: 'completed', initiated_by: 'system' })
        expect((await store.listSyncRuns()).map((r) => r.id)).toEqual([d.id, c.id, b.id, a.id])
        expect((await store.listSyncRuns({ sync_type: 'guild' })).map((r) => r.id)).toEqual([d.id, c.id, a.id])
        expect((await store.listSyncRuns({ status: 'completed' })).map((r) => r.id)).toEqual([d.id, c.id])
        expect((await store.listSyncRuns({ sync_type: 'guild', target_id: 'g1' })).map((r) => r.id)).toEqual([d.id, a.id])
        expect((await store.listSyncRuns({ limit: 2 })).map((r) => r.id)).toEqual([d.id, c.id])
        expect(await store.listSyncRuns({ target_id: 'nobody' })).toEqual([])
        expect(first(await store.listSyncRuns({ limit: 1 }))).toEqual(d)
      })

      it('defaults the list to 20 runs and never returns more than MAX_PAGE_SIZE', async () => {
        for (let i = 0; i < MAX_PAGE_SIZE + 3; i++) await store.createSyncRun({ sync_type: 'user', target_id: `u${i}`, initiated_by: 'system' })
        expect((await store.listSyncRuns()).length).toBe(20)
        expect((await store.listSyncRuns({ limit: 1000 })).length).toBe(MAX_PAGE_SIZE)
      })

      it('fails stale pending and running runs, leaving live and finished runs alone', async () => {
        const longAgo = new Date(Date.now() - 3_600_000)
        const recent = new Date(Date.now() - 1_000)
        const staleHeartbeat = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
        await store.updateSyncRun(staleHeartbeat.id, { heartbeat_at: longAgo })
        const staleStart = await store.createSyncRun({ sync_type: 'guild', status: 'pending', started_at: longAgo, initiated_by: 'system' })
        const liveHeartbeat = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
        await store.updateSyncRun(liveHeartbeat.id, { heartbeat_at: recent })
        const liveStart = await store.createSyncRun({ sync_type: 'user', status: 'running', started_at: recent, initiated_by: 'system' })
        const finished = await store.createSyncRun({ sync_type: 'user', status: 'completed', started_at: longAgo, initiated_by: 'system' })

        const cutoff = new Date(Date.now() - 60_000)
        expect(await store.failStaleSyncRuns(cutoff, 'worker lost')).toBe(2)
        for (const id of [staleHeartbeat.id, staleStart.id]) {
          const r = await store.getSyncRun(id)
          expect(r?.status).toBe('failed')
          expect(r?.completed_at).toBeInstanceOf(Date)
          expect(r?.results.errors.some((e) => e.error === 'worker lost')).toBe(true)
        }
        expect((await store.getSyncRun(liveHeartbeat.id))?.status).toBe('running')
        expect(await store.getSyncRun(liveStart.id)).toEqual(liveStart)
        expect(await store.getSyncRun(finished.id)).toEqual(finished)
        expect(await store.failStaleSyncRuns(cutoff, 'worker lost')).toBe(0)
      })

      it('prunes finished runs created before a date and keeps active ones', async () => {
        const done = await store.createSyncRun({ sync_type: 'user', status: 'completed', initiated_by: 'system' })
        const failed = await store.createSyncRun({ sync_type: 'user', status: 'failed', initiated_by: 'system' })
        const running = await store.createSyncRun({ sync_type: 'user', status: 'running', initiated_by: 'system' })
        const pending = await store.createSyncRun({ sync_type: 'user', initiated_by: 'system' })
        expect(await store.pruneSyncRuns(new Date(Date.now() - 3_600_000))).toBe(0)
        expect(await store.pruneSyncRuns(new Date(Date.now() + 3_600_000))).toBe(2)
        expect(await store.getSyncRun(done.id)).toBeNull()
        expect(await store.getSyncRun(failed.id)).toBeNull()
        expect(await store.getSyncRun(running.id)).toEqual(running)
        expect(await store.getSyncRun(pending.id)).toEqual(pending)
      })
    })

    // ------------------------------------------------------------ task runs

    describe('discord_task_runs', () => {
      const at = (minutesAgo: number): Date => new Date(Date.now() - minutesAgo * 60_000)
      const runInput = (over: Partial<CreateTaskRunInput> = {}): CreateTaskRunInput => ({
        task: 'token_refresh',
        status: 'completed',
        reason: null,
        started_at: at(10),
        finished_at: at(9),
        duration_ms: 60_000,
        counts: { candidates: 3, refreshed: 2, reauth_required: 1, failed: 0, skipped: 0 },
        errors: [],
        ...over
      })

      it('records a run and returns it as stored: dates, counts, errors and reason round-trip', async () => {
        const input = runInput({
          status: 'failed',
          reason: 'lock lost',
          counts: { candidates: 2, refreshed: 0, failed: 2 },
          errors: [
            { discord_user_id: '100000000000000001', code: 'FST_DISCORD_API_SERVER_ERROR', message: 'POST /oauth2/token answered 500' },
            { code: 'FST_DISCORD_INTERNAL', message: 'unexpected error' }
          ]
        })
        const run = await store.recordTaskRun(input)
        expect(run).toEqual({ id: expect.any(String), ...input })
        expect(run.started_at).toBeInstanceOf(Date)
        expect(await store.listTaskRuns({ task: 'token_refresh' })).toEqual([run])
      })

      it('lists one task\'s runs newest first, 20 by default, at most MAX_PAGE_SIZE', async () => {
        for (let i = 0; i < 25; i++) await store.recordTaskRun(runInput({ started_at: at(100 - i), finished_at: at(99 - i), counts: { n: i } }))
        await store.recordTaskRun(runInput({ task: 'another_task' as CreateTaskRunInput['task'], started_at: at(0) }))
        const page = await store.listTaskRuns({ task: 'token_refresh' })
        expect(page.map((r) => r.counts.n)).toEqual(Array.from({ length: 20 }, (_, i) => 24 - i))
        expect((await store.listTaskRuns({ task: 'token_refresh', limit: 3 })).map((r) => r.counts.n)).toEqual([24, 23, 22])
        expect(await store.listTaskRuns({ task: 'token_refresh', limit: 1000 })).toHaveLength(25)
        expect(MAX_PAGE_SIZE).toBeGreaterThanOrEqual(25)
        expect(await store.listTaskRuns({ task: 'another_task' as CreateTaskRunInput['task'] })).toHaveLength(1)
      })

      it('stores only the known fields of an error and finite counters', async () => {
        const run = await store.recordTaskRun(runInput({
          counts: { refreshed: 1, bogus: Number.NaN },
          errors: [{ code: 'X', message: 'm', guild_id: null, access_token: 'leaked' } as CreateTaskRunInput['errors'][number]]
        }))
        expect(run.counts).toEqual({ refreshed: 1 })
        expect(run.errors).toEqual([{ code: 'X', message: 'm', guild_id: null }])
        expect(JSON.stringify(await store.listTaskRuns({ task: 'token_refresh' }))).not.toContain('leaked')
        expect(await harness.rawDump(store)).not.toContain('leaked')
      })

      it('prunes one task\'s runs that started before a date, keeping newer ones and other tasks', async () => {
        const old = await store.recordTaskRun(runInput({ started_at: at(120), finished_at: at(119) }))
        const recent = await store.recordTaskRun(runInput({ started_at: at(5), finished_at: at(4) }))
        const other = await store.recordTaskRun(runInput({ task: 'another_task' as CreateTaskRunInput['task'], started_at: at(120) }))
        expect(await store.pruneTaskRuns('token_refresh', at(60))).toBe(1)
        expect(await store.pruneTaskRuns('token_refresh', at(60))).toBe(0)
        expect(await store.listTaskRuns({ task: 'token_refresh' })).toEqual([recent])
        expect(await store.listTaskRuns({ task: 'another_task' as CreateTaskRunInput['task'] })).toEqual([other])
        expect(old.id).not.toBe(recent.id)
      })
    })

    // ------------------------------------------------------------ oauth states

    describe('discord_oauth_states', () => {
      const future = (): Date => new Date(Date.now() + 600_000)

      it('creates a state and consumes it exactly once', async () => {
        const expires = future()
        const s = await store.createOAuthState({
          state: `st-${randomUUID()}`,
          flow: 'link',
          user_id: 'host-1',
          redirect_url: 'https://app.example/after',
          scopes: ['identify', 'guilds'],
          code_verifier: 'verifier-abc',
          expires_at: expires
        })
        expect(s).toMatchObject({ flow: 'link', user_id: 'host-1', redirect_url: 'https://app.example/after', scopes: ['identify', 'guilds'], code_verifier: 'verifier-abc', used: false })
        expect(s.expires_at).toEqual(expires)
        expect(s.created_at).toBeInstanceOf(Date)

        const res = await store.consumeOAuthState(s.state)
        expect(res.ok).toBe(true)
        if (res.ok) expect(res.record).toEqual({ ...s, used: true })
        // The loser learns where the flow was to return, so a browser can be sent back there.
        expect(await store.consumeOAuthState(s.state)).toEqual({ ok: false, reason: 'used', redirect_url: 'https://app.example/after' })
      })

      it('defaults optional fields to null', async () => {
        const s = await store.createOAuthState({ state: `st-${randomUUID()}`, flow: 'login', scopes: [], expires_at: future() })
        expect(s).toMatchObject({ user_id: null, redirect_url: null, code_verifier: null, scopes: [], used: false })
      })

      it('reports unknown states as not_found', async () => {
        expect(await store.consumeOAuthState(`forged-${randomUUID()}`)).toEqual({ ok: false, reason: 'not_found' })
      })

      it('rejects a duplicate state value with a conflict and keeps the original', async () => {
        const state = `st-${randomUUID()}`
        await store.createOAuthState({ state, flow: 'login', redirect_url: 'https://first.example', scopes: ['identify'], expires_at: future() })
        await expectConflict(store.createOAuthState({ state, flow: 'link', redirect_url: 'https://second.example', scopes: [], expires_at: future() }))
        const res = await store.consumeOAuthState(state)
        expect(res.ok).toBe(true)
        if (res.ok) expect(res.record).toMatchObject({ flow: 'login', redirect_url: 'https://first.example' })
      })

      it('lets exactly one of 50 concurrent consumers win', async () => {
        const state = `st-${randomUUID()}`
        await store.createOAuthState({ state, flow: 'login', scopes: ['identify'], expires_at: future() })
        const results = await Promise.all(Array.from({ length: 50 }, () => store.consumeOAuthState(state)))
        expect(results.filter((r) => r.ok).length).toBe(1)
        const losers = results.filter((r) => !r.ok)
        expect(losers.length).toBe(49)
        for (const r of losers) expect(r).toEqual({ ok: false, reason: 'used', redirect_url: null })
      })

      it('lets exactly one consumer win across two store instances over the same data', async () => {
        // Two instances stand in for two processes of a scaled-out host.
        const other = await reopen(store, secrets)
        const states = Array.from({ length: 20 }, () => `st-${randomUUID()}`)
        for (const state of states) await store.createOAuthState({ state, flow: 'login', scopes: [], expires_at: future() })
        const attempts = states.flatMap((state) => [store, other, store, other].map((s) => s.consumeOAuthState(state)))
        const results = await Promise.all(attempts)
        expect(results.filter((r) => r.ok).length).toBe(states.length)
        expect(results.filter((r) => !r.ok && r.reason === 'used').length).toBe(states.length * 3)
      })

      it('never returns an expired state', async () => {
        const state = `st-${randomUUID()}`
        await store.createOAuthState({ state, flow: 'login', scopes: [], expires_at: new Date(Date.now() - 1_000) })
        const res = await store.consumeOAuthState(state)
        expect(res.ok).toBe(false)
        if (!res.ok) expect(['expired', 'not_found']).toContain(res.reason)

        // Judged against the caller's clock when one is given.
        const later = `st-${randomUUID()}`
        const expires = new Date(Date.now() + 60_000)
        await store.createOAuthState({ state: later, flow: 'login', redirect_url: 'https://app.example/late', scopes: [], expires_at: expires })
        const atExpiry = await store.consumeOAuthState(later, new Date(expires.getTime() + 1))
        // Still stored (not purged): reported as expired, with the URL the flow was to return to.
        expect(atExpiry).toEqual({ ok: false, reason: 'expired', redirect_url: 'https://app.example/late' })
        const res2 = await store.consumeOAuthState(later, new Date(expires.getTime() - 1_000))
        expect(res2.ok).toBe(true)
      })

      it('purges expired states and keeps live ones', async () => {
        const now = new Date()
        const live = `st-${randomUUID()}`
        const dead1 = `st-${randomUUID()}`
        const dead2 = `st-${randomUUID()}`
        await store.createOAuthState({ state: live, flow: 'login', scopes: [], expires_at: new Date(now.getTime() + 60_000) })
        await store.createOAuthState({ state: dead1, flow: 'login', scopes: [], expires_at: new Date(now.getTime() - 60_000) })
        await store.createOAuthState({ state: dead2, flow: 'link', scopes: [], expires_at: new Date(now.getTime() - 1_000) })
        expect(await store.purgeExpiredOAuthStates(now)).toBe(2)
        expect(await store.purgeExpiredOAuthStates(now)).toBe(0)
        expect(await store.consumeOAuthState(dead1, now)).toEqual({ ok: false, reason: 'not_found' })
        expect(await store.consumeOAuthState(dead2, now)).toEqual({ ok: false, reason: 'not_found' })
        expect((await store.consumeOAuthState(live, now)).ok).toBe(true)
        // Without an argument the store uses the current time.
        const stale = `st-${randomUUID()}`
        await store.createOAuthState({ state: stale, flow: 'login', scopes: [], expires_at: new Date(Date.now() - 5_000) })
        expect(await store.purgeExpiredOAuthStates()).toBe(1)
      })
    })

    // ------------------------------------------------------------ audit

    describe('discord_audit_log', () => {
      function entry (overrides: Partial<CreateAuditEntryInput> = {}): CreateAuditEntryInput {
        return {
          run_id: null,
          guild_id: 'g1',
          discord_user_id: 'd1',
          user_id: null,
          role_id: 'r1',
          role_name: null,
          action: 'add',
          mapping_id: null,
          outcome: 'applied',
          error_code: null,
          ...overrides
        }
      }

      it('appends entries and lists them newest first with every field', async () => {
        const base = Date.now() - 10_000
        const full = entry({ run_id: 'run-1', user_id: 'host-1', role_name: 'Pilot', action: 'remove', mapping_id: 'm-1', outcome: 'failed', error_code: '50013', created_at: new Date(base + 2_000) })
        expect(await store.appendAudit([
          entry({ created_at: new Date(base) }),
          full,
          entry({ created_at: new Date(base + 1_000) })
        ])).toBe(3)
        expect(await store.appendAudit([])).toBe(0)
        const page = await store.listAudit()
        expect(page.total).toBe(3)
        expect(page.items.map((e) => e.created_at.getTime())).toEqual([base + 2_000, base + 1_000, base])
        const top = first(page.items)
        expect(typeof top.id).toBe('string')
        expect(top).toEqual({ ...full, id: top.id, created_at: new Date(base + 2_000) })

        await store.appendAudit([entry()])
        const latest = first((await store.listAudit()).items)
        expect(Math.abs(latest.created_at.getTime() - Date.now())).toBeLessThan(60_000)
      })

      it('filters by guild, discord user, host user and run', async () => {
        await store.appendAudit([
          entry({ guild_id: 'gA', discord_user_id: 'dA', user_id: 'hA', run_id: 'run-A' }),
          entry({ guild_id: 'gA', discord_user_id: 'dB', user_id: 'hB', run_id: 'run-A' }),
          entry({ guild_id: 'gB', discord_user_id: 'dA', user_id: 'hA', run_id: 'run-B' }),
          entry({ guild_id: 'gB', discord_user_id: 'dC', user_id: null, run_id: null })
        ])
        expect((await store.listAudit({ guild_id: 'gA' })).total).toBe(2)
        expect((await store.listAudit({ discord_user_id: 'dA' })).items.map((e) => e.guild_id).sort()).toEqual(['gA', 'gB'])
        expect((await store.listAudit({ user_id: 'hB' })).items.map((e) => e.discord_user_id)).toEqual(['dB'])
        expect((await store.listAudit({ run_id: 'run-B' })).items.map((e) => e.discord_user_id)).toEqual(['dA'])
        const combined = await store.listAudit({ guild_id: 'gB', discord_user_id: 'dA' })
        expect(combined.total).toBe(1)
        expect(first(combined.items).run_id).toBe('run-B')
        expect((await store.listAudit({ run_id: 'none' })).items).toEqual([])
      })

      it('pages newest first without duplicates or gaps and clamps page_size', async () => {
        const base = Date.now() - 1_000_000
        // Pairs share a timestamp so the id tie-break is exercised.
        const entries = Array.from({ length: MAX_PAGE_SIZE + 20 }, (_, i) => entry({ role_id: `r${i}`, created_at: new Date(base + Math.floor(i / 2) * 1_000) }))
        expect(await store.appendAudit(entries)).toBe(MAX_PAGE_SIZE + 20)

        const all: string[] = []
        let total = -1
        for (let page = 1; page <= 6; page++) {
          const p = await store.listAudit({ page, page_size: 25 })
          total = p.total
          all.push(...p.items.map((e) => e.id))
          if (page === 6) expect(p.items).toEqual([])
        }
        expect(total).toBe(MAX_PAGE_SIZE + 20)
        expect(all.length).toBe(MAX_PAGE_SIZE + 20)
        expect(new Set(all).size).toBe(MAX_PAGE_SIZE + 20)

        const clamped = await store.listAudit({ page_size: 500 })
        expect(clamped.page_size).toBe(MAX_PAGE_SIZE)
        expect(clamped.items.length).toBe(MAX_PAGE_SIZE)
        expect(clamped.items.map((e) => e.id)).toEqual(all.slice(0, MAX_PAGE_SIZE))
        const times = clamped.items.map((e) => e.created_at.getTime())
        expect([...times].sort((a, b) => b - a)).toEqual(times)
        // Within equal timestamps the order is id descending.
        for (let i = 1; i < clamped.items.length; i++) {
          const prev = clamped.items[i - 1]
          const cur = clamped.items[i]
          if (prev && cur && prev.created_at.getTime() === cur.created_at.getTime()) expect(prev.id > cur.id).toBe(true)
        }
      })

      it('prunes entries created before a date', async () => {
        const old = new Date(Date.now() - 86_400_000)
        await store.appendAudit([entry({ created_at: old }), entry({ created_at: old }), entry()])
        expect(await store.pruneAudit(new Date(Date.now() - 3_600_000))).toBe(2)
        const rest = await store.listAudit()
        expect(rest.total).toBe(1)
        expect(first(rest.items).created_at.getTime()).toBeGreaterThan(old.getTime())
        expect(await store.pruneAudit(new Date(Date.now() - 3_600_000))).toBe(0)
      })
    })

    // ------------------------------------------------------------ secrets

    describe('secrets at rest', () => {
      const FORBIDDEN_KEYS = ['access_token', 'refresh_token', 'bot_token']

      function assertClean (label: string, value: unknown, plaintexts: string[]): void {
        const json = JSON.stringify(value)
        expect(json, label).toBeDefined()
        for (const p of plaintexts) expect(json.includes(p), `${label} leaks a token`).toBe(false)
        expect(json.includes('dsenc:'), `${label} leaks a sealed envelope`).toBe(false)
        for (const k of FORBIDDEN_KEYS) expect(json.includes(`"${k}"`), `${label} has a ${k} field`).toBe(false)
      }

      it('never returns a token or an envelope in any record', async () => {
        const access = `ACCESS-${randomUUID()}`
        const refresh = `REFRESH-${randomUUID()}`
        const bot = `BOT-${randomUUID()}`
        const access2 = `ACCESS2-${randomUUID()}`
        const refresh2 = `REFRESH2-${randomUUID()}`
        const bot2 = `BOT2-${randomUUID()}`
        const all = [access, refresh, bot, access2, refresh2, bot2]
        const gid = snowflake()
        const soon = new Date(Date.now() + 60_000)

        const u = await store.createUser(userInput({
          user_id: 'host-secret',
          guilds: [{ id: gid, name: 'G', permissions: '0' }],
          tokens: { access_token: access, refresh_token: refresh, expires_at: soon, scopes: ['identify'] }
        }))
        assertClean('createUser', u, all)
        assertClean('getUserByDiscordId', await store.getUserByDiscordId(u.discord_user_id), all)
        assertClean('listUsersByUserId', await store.listUsersByUserId('host-secret'), all)
        assertClean('listUsersByDiscordIds', await store.listUsersByDiscordIds([u.discord_user_id]), all)
        assertClean('listUsers', await store.listUsers(), all)
        assertClean('listUsers(guild)', await store.listUsers({ guild_id: gid }), all)
        assertClean('updateUser', await store.updateUser(u.discord_user_id, { username: 'x' }), all)
        await store.setUserTokens(u.discord_user_id, { access_token: access2, refresh_token: refresh2, expires_at: soon, scopes: ['identify'] })
        assertClean('listUsersWithTokensExpiringBefore', await store.listUsersWithTokensExpiringBefore(new Date(Date.now() + 3_600_000), 10), all)

        const g = await store.createGuild({ guild_id: gid, guild_name: 'Secretive', bot_token: bot })
        assertClean('createGuild', g, all)
        assertClean('updateGuild', await store.updateGuild(gid, { bot_token: bot2 }), all)
        assertClean('getGuild', await store.getGuild(gid), all)
        assertClean('listGuilds', await store.listGuilds(), all)
        const m = await store.createMapping(mappingInput(gid))
        assertClean('createMapping', m, all)
        assertClean('listMappings', await store.listMappings(), all)
        assertClean('deleteGuild', await store.deleteGuild(gid), all)

        // The secrets themselves still come back through their dedicated readers.
        expect(await store.getUserTokens(u.discord_user_id)).toMatchObject({ access_token: access2, refresh_token: refresh2 })
      })

      it('persists no plaintext token of any kind', async () => {
        const bot = `PLAINTEXT-BOT-${randomUUID()}`
        const access = `PLAINTEXT-ACCESS-${randomUUID()}`
        const refresh = `PLAINTEXT-REFRESH-${randomUUID()}`
        const guildName = `Visible Guild ${randomUUID()}`
        const gid = snowflake()
        await store.createGuild({ guild_id: gid, guild_name: guildName, bot_token: bot })
        const u = await store.createUser(userInput({ tokens: { access_token: access, refresh_token: refresh, expires_at: new Date(Date.now() + 60_000), scopes: ['identify'] } }))
        expect(await store.getBotToken(gid)).toBe(bot)
        expect((await store.getUserTokens(u.discord_user_id))?.refresh_token).toBe(refresh)

        const dump = await harness.rawDump(store)
        // The dump must really contain the data, or the absence checks prove nothing.
        expect(dump).toContain(guildName)
        expect(dump).toContain(u.discord_user_id)
        expect(dump).toContain(`dsenc:v1:${secrets.currentKeyId}:`)
        for (const plaintext of [bot, access, refresh]) expect(dump.includes(plaintext)).toBe(false)
        // Not even the distinctive part of a value, e.g. as a fragment of a document.
        for (const plaintext of [bot, access, refresh]) expect(dump.includes(plaintext.slice(-36))).toBe(false)
      })

      it('reads values sealed with a rotated-out key and seals new values with the new key', async () => {
        const oldKey = generateKey()
        const newKey = generateKey()
        const oldBox = new SecretBox(oldKey)
        const s1 = await open(oldBox)
        const t = tokens()
        const bot = `bot-${randomUUID()}`
        const gid = snowflake()
        const u = await s1.createUser(userInput({ tokens: t }))
        await s1.createGuild({ guild_id: gid, guild_name: 'Rotating', bot_token: bot })

        const rotated = new SecretBox([newKey, oldKey])
        expect(rotated.currentKeyId).not.toBe(oldBox.currentKeyId)
        const before = await harness.rawDump(s1)
        expect(before).toContain(`dsenc:v1:${oldBox.currentKeyId}:`)
        expect(before).not.toContain(`dsenc:v1:${rotated.currentKeyId}:`)

        const s2 = await reopen(s1, rotated)
        expect(await s2.getUserTokens(u.discord_user_id)).toEqual(t)
        expect(await s2.getBotToken(gid)).toBe(bot)

        const bot2 = `bot-${randomUUID()}`
        await s2.updateGuild(gid, { bot_token: bot2 })
        const after = await harness.rawDump(s2)
        expect(after).toContain(`dsenc:v1:${rotated.currentKeyId}:`)
        expect(await s2.getBotToken(gid)).toBe(bot2)

        // A store that lost the old key cannot read old values, and says so instead of returning null.
        const s3 = await reopen(s1, new SecretBox(newKey))
        const err = await rejectionOf(s3.getUserTokens(u.discord_user_id))
        expect(err.code).toBe('FST_DISCORD_SECRET_DECRYPT')
        expect(String(err.message)).not.toContain(t.access_token)
        expect(await s3.getBotToken(gid)).toBe(bot2)
      })
    })
  })
}
