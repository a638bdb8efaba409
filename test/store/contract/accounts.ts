import { randomUUID } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../../src/store/port/index.js'
import type { CreateDiscordUserInput, DiscordStore, DiscordUserRecord } from '../../../src/store/port/index.js'
import { expectConflict, later, snowflake, byCreatedThenId, first, type ContractFixture } from './fixture.js'

/** Linked accounts: users, their tokens, and the paged user list. */
export function linkedAccountsContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })
  const { userInput, tokens } = fx

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

  describe('searchUsers (keyset pages for the members page)', () => {
    it('pages after a cursor in created_at, id order with no gaps, repeats or offset', async () => {
      const search = store.searchUsers?.bind(store)
      expect(search).toBeTypeOf('function')
      if (search === undefined) return
      const users: DiscordUserRecord[] = []
      for (let i = 0; i < 9; i++) users.push(await store.createUser(userInput()))
      const expected = [...users].sort(byCreatedThenId).map((u) => u.id)
      const seen: string[] = []
      let after: DiscordUserRecord | null = null
      for (;;) {
        const page: DiscordUserRecord[] = await search({ after, limit: 4 })
        seen.push(...page.map((u) => u.id))
        if (page.length < 4) break
        after = page[page.length - 1] as DiscordUserRecord
      }
      expect(seen).toEqual(expected)
      // A link added after the first page was read still comes, once, at the end.
      const firstPage = await search({ limit: 4 })
      const late = await store.createUser(userInput())
      const rest = await search({ after: firstPage[3], limit: 100 })
      expect([...firstPage, ...rest].map((u) => u.id)).toEqual([...expected, late.id])
    })

    it('matches ids exactly and names as text, case-insensitively, and filters needs_reauth', async () => {
      const search = store.searchUsers?.bind(store)
      if (search === undefined) throw new Error('the adapter has no searchUsers')
      const a = await store.createUser(userInput({ username: 'Alice_1', global_name: 'Queen 50%' }))
      const b = await store.createUser(userInput({ username: 'bob', global_name: '500 club' }))
      const c = await store.createUser(userInput({ username: 'alicex1', global_name: 'Carol' }))
      await store.updateUser(c.discord_user_id, { needs_reauth: true })
      const ids = async (q: Parameters<typeof search>[0]): Promise<string[]> => (await search(q)).map((u) => u.id)
      expect(await ids({ limit: 10, search: 'ALICE' })).toEqual([a, c].sort(byCreatedThenId).map((u) => u.id))
      // Wildcards are text: "_" matches only an underscore, "%" only a percent sign, "." only a dot.
      expect(await ids({ limit: 10, search: 'e_1' })).toEqual([a.id])
      expect(await ids({ limit: 10, search: '50%' })).toEqual([a.id])
      expect(await ids({ limit: 10, search: 'b.b' })).toEqual([])
      expect(await ids({ limit: 10, search: 'carol' })).toEqual([c.id])
      expect(await ids({ limit: 10, search: b.discord_user_id })).toEqual([b.id])
      expect(await ids({ limit: 10, search: a.user_id })).toEqual([a.id])
      // A part of an id is not a match: ids are looked up whole.
      expect(await ids({ limit: 10, search: b.discord_user_id.slice(0, 10) })).toEqual([])
      expect(await ids({ limit: 10, search: 'alice', needs_reauth: true })).toEqual([c.id])
      expect(await ids({ limit: 10, needs_reauth: false, search: 'alice' })).toEqual([a.id])
    })
  })
}
