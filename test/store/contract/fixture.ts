import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, expect, vi } from 'vitest'
import { SecretBox, generateKey } from '../../../src/store/crypto.js'
import type { CreateDiscordUserInput, CreateRoleMappingInput, DiscordStore, OAuthTokens } from '../../../src/store/port/index.js'

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

export const CONFLICT = 'FST_DISCORD_CONFLICT'
export const NOT_FOUND = 'FST_DISCORD_NOT_FOUND'

export interface CodedError { code?: unknown, statusCode?: unknown, message?: unknown }

/** Awaits a promise that must reject and returns the rejection for inspection. */
export async function rejectionOf (p: Promise<unknown>): Promise<CodedError> {
  try {
    await p
  } catch (err) {
    return err as CodedError
  }
  throw new Error('expected the operation to reject, but it resolved')
}

export async function expectConflict (p: Promise<unknown>, mustNotMention: string[] = []): Promise<void> {
  const err = await rejectionOf(p)
  expect(err.code).toBe(CONFLICT)
  expect(err.statusCode).toBe(409)
  expect(typeof err.message).toBe('string')
  for (const s of mustNotMention) expect(err.message).not.toContain(s)
}

export async function expectNotFound (p: Promise<unknown>): Promise<void> {
  const err = await rejectionOf(p)
  expect(err.code).toBe(NOT_FOUND)
  expect(err.statusCode).toBe(404)
}

/**
 * Moves the clock 5 ms on, so the next write is stamped later than the last one, without
 * waiting. Only Date is faked (the suite's afterEach restores it): timers stay real, because
 * a real MongoDB driver needs them.
 */
export function later (): void {
  if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
  vi.setSystemTime(Date.now() + 5)
}

let seq = 0
/** Unique Discord-style snowflake per call (unique across the whole run). */
export function snowflake (): string {
  seq += 1
  return (100000000000000000n + BigInt(Date.now() % 1_000_000) * 1_000_000n + BigInt(seq)).toString()
}

export function byCreatedThenId (a: { created_at: Date, id: string }, b: { created_at: Date, id: string }): number {
  const d = a.created_at.getTime() - b.created_at.getTime()
  if (d !== 0) return d
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

export function first<T> (items: readonly T[]): T {
  expect(items.length).toBeGreaterThan(0)
  return items[0] as T
}

/** What every part of the contract works with: the running test's store and the builders of its inputs. */
export interface ContractFixture {
  readonly harness: StoreHarness
  /** A fresh, empty store per test. */
  readonly store: DiscordStore
  /** The SecretBox `store` was opened with. */
  readonly secrets: SecretBox
  /** Another fresh store, closed with the test. */
  open (box: SecretBox): Promise<DiscordStore>
  /** A second store over `s`'s data, closed with the test. */
  reopen (s: DiscordStore, box: SecretBox): Promise<DiscordStore>
  userInput (overrides?: Partial<CreateDiscordUserInput>): CreateDiscordUserInput
  tokens (overrides?: Partial<OAuthTokens>): OAuthTokens
  /** Creates a guild configuration in the test's store; returns its guild id. */
  guild (name?: string, botToken?: string | null): Promise<string>
  mappingInput (guildId: string, overrides?: Partial<CreateRoleMappingInput>): CreateRoleMappingInput
}

/** Registers the per-test store lifecycle in the calling describe block and returns the fixture. */
export function storeFixture (backend: string, harness: StoreHarness): ContractFixture {
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

  return {
    harness,
    get store () { return store },
    get secrets () { return secrets },
    open,
    reopen,
    userInput,
    tokens,
    guild,
    mappingInput
  }
}
