/*
 * The membership provider: how the host tells the sync engine what a user is entitled to.
 * The engine knows Discord; only the host knows its own users' groups, how many characters
 * they have and which permissions they hold. Whatever the provider returns is outside input:
 * it is validated here, so a provider bug becomes one member's recorded error instead of a
 * crash or (worse) a plan computed from garbage.
 */
import pLimit from 'p-limit'
import { cleanProfileValue } from './nickname.js'
import type { UserContext, UserGroup } from './types.js'

/** What the host reports for one of its users. */
export interface MembershipInfo {
  /** The host groups the user belongs to (mappings match on `id`; `name` is for reports). */
  groups: UserGroup[]
  /** Number of characters (accounts, avatars...) the user has; mapping bounds compare against it. */
  character_count: number
  /** The user's permissions; mappings may require all or any of a list. */
  permissions: string[]
  /**
   * Optional values for nickname templates (`{ ticker: 'ABC', name: 'Jane' }`): keys are
   * lower-case names (/^[a-z][a-z0-9_]{0,31}$/), values strings. Untrusted text: control
   * characters are stripped and each value cut to 64 characters.
   */
  profile?: { [name: string]: string }
}

/**
 * Supplied by the host in the plugin options (`membership`). `getMembership` answers for one
 * host user id: the info, or null when the host knows no such user (the user is then entitled
 * to nothing, so a linked account loses its managed roles). Throwing means "unknown right now":
 * that member is skipped and recorded as failed, and keeps every role it has.
 *
 * `getMemberships` is optional: when present, a guild sync asks for a whole members page at once
 * (one call per page of up to 1000 linked users) instead of one call per user. Ids absent from
 * its map count as null.
 */
export interface MembershipProvider {
  getMembership (userId: string): MembershipInfo | null | Promise<MembershipInfo | null>
  getMemberships? (userIds: readonly string[]): Map<string, MembershipInfo | null> | Promise<Map<string, MembershipInfo | null>>
  /**
   * Optional: every group a mapping may name, `{ id, name }` each, so the admin UI's mapping
   * editor offers them by name with search (GET {routePrefix}/membership/groups). Without it the
   * editor takes the group id as free text. The answer is validated like any provider answer
   * (ids of 1-256 characters, at most 10 000 groups); a bad answer is an error, never a partial list.
   */
  listGroups? (): UserGroup[] | Promise<UserGroup[]>
}

/** A provider answer that is not a valid MembershipInfo. The message names the field, never the value. */
export class MembershipInvalidError extends Error {
  readonly code = 'membership_invalid'
  constructor (why: string) {
    super(`the membership provider returned invalid data: ${why}`)
    this.name = 'MembershipInvalidError'
  }
}

/** The provider threw or rejected. */
export class MembershipUnavailableError extends Error {
  readonly code = 'membership_unavailable'
  constructor (cause: unknown) {
    // Only the provider's message class is kept: host errors may carry connection details.
    super(`the membership provider failed${cause instanceof Error ? ` (${cause.name})` : ''}`)
    this.name = 'MembershipUnavailableError'
  }
}

/** Generous bounds: enough for any real host, small enough that one bad answer cannot exhaust memory. */
export const MAX_GROUPS = 10_000
const MAX_PERMISSIONS = 10_000
export const MAX_ID_LENGTH = 256
const MAX_PROFILE_FIELDS = 50
const PROFILE_KEY_RE = /^[a-z][a-z0-9_]{0,31}$/

/** The profile as a prototype-free map of cleaned values (a key like "constructor" reads nothing inherited). */
function toProfile (raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!isRecord(raw)) throw new MembershipInvalidError('profile must be an object of strings')
  const entries = Object.entries(raw)
  if (entries.length > MAX_PROFILE_FIELDS) throw new MembershipInvalidError(`more than ${MAX_PROFILE_FIELDS} profile fields`)
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [k, v] of entries) {
    if (!PROFILE_KEY_RE.test(k)) throw new MembershipInvalidError('profile keys must be lower-case names of 1-32 characters (a-z, 0-9, _)')
    if (typeof v !== 'string') throw new MembershipInvalidError('profile values must be strings')
    out[k] = cleanProfileValue(v)
  }
  return out
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Validates one provider answer and turns it into the planner's user context. */
export function toUserContext (userId: string, raw: unknown): UserContext {
  if (raw === null || raw === undefined) return { user_id: userId, groups: [], character_count: 0, permissions: [] }
  if (!isRecord(raw)) throw new MembershipInvalidError('expected an object or null')
  const { groups, character_count: count, permissions } = raw
  if (!Array.isArray(groups)) throw new MembershipInvalidError('groups must be an array')
  if (groups.length > MAX_GROUPS) throw new MembershipInvalidError(`more than ${MAX_GROUPS} groups`)
  const outGroups: UserGroup[] = []
  for (const g of groups) {
    if (!isRecord(g) || typeof g.id !== 'string' || g.id.length === 0 || g.id.length > MAX_ID_LENGTH) {
      throw new MembershipInvalidError(`every group needs an id of 1-${MAX_ID_LENGTH} characters`)
    }
    const name = typeof g.name === 'string' ? g.name : g.id
    outGroups.push({ id: g.id, name })
  }
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new MembershipInvalidError('character_count must be a non-negative integer')
  }
  if (!Array.isArray(permissions)) throw new MembershipInvalidError('permissions must be an array')
  if (permissions.length > MAX_PERMISSIONS) throw new MembershipInvalidError(`more than ${MAX_PERMISSIONS} permissions`)
  for (const p of permissions) {
    if (typeof p !== 'string' || p.length === 0 || p.length > MAX_ID_LENGTH) {
      throw new MembershipInvalidError(`every permission must be a string of 1-${MAX_ID_LENGTH} characters`)
    }
  }
  const profile = toProfile(raw.profile)
  return { user_id: userId, groups: outGroups, character_count: count, permissions: [...permissions] as string[], ...(profile === undefined ? {} : { profile }) }
}

/** A user's context, or the error that keeps the member out of this run. */
export type ContextResult = UserContext | MembershipInvalidError | MembershipUnavailableError

/** Asks the provider for one user. Never throws: failures come back as errors. */
export async function resolveContext (provider: MembershipProvider, userId: string): Promise<ContextResult> {
  let raw: unknown
  try {
    raw = await provider.getMembership(userId)
  } catch (err) {
    return new MembershipUnavailableError(err)
  }
  try {
    return toUserContext(userId, raw)
  } catch (err) {
    return err as MembershipInvalidError
  }
}

/**
 * Contexts for many users: one batch call when the provider has one, otherwise `concurrency`
 * single calls at a time. A failing batch fails every user of the batch (no silent fallback:
 * a half-answered page must not be planned as "no groups").
 */
export async function resolveContexts (provider: MembershipProvider, userIds: readonly string[], concurrency: number): Promise<Map<string, ContextResult>> {
  const out = new Map<string, ContextResult>()
  const unique = [...new Set(userIds)]
  if (unique.length === 0) return out
  if (typeof provider.getMemberships === 'function') {
    let answer: unknown
    try {
      answer = await provider.getMemberships(unique)
    } catch (err) {
      const failure = new MembershipUnavailableError(err)
      for (const id of unique) out.set(id, failure)
      return out
    }
    if (!(answer instanceof Map)) {
      const failure = new MembershipInvalidError('getMemberships must return a Map')
      for (const id of unique) out.set(id, failure)
      return out
    }
    for (const id of unique) {
      try {
        out.set(id, toUserContext(id, answer.get(id) ?? null))
      } catch (err) {
        out.set(id, err as MembershipInvalidError)
      }
    }
    return out
  }
  const limit = pLimit(concurrency)
  await Promise.all(unique.map((id) => limit(async () => { out.set(id, await resolveContext(provider, id)) })))
  return out
}

/** Checks the option at register time: an object with a getMembership function. */
export function isMembershipProvider (v: unknown): v is MembershipProvider {
  if (typeof v !== 'object' || v === null) return false
  const p = v as Record<string, unknown>
  return typeof p.getMembership === 'function' && (p.getMemberships === undefined || typeof p.getMemberships === 'function') &&
    (p.listGroups === undefined || typeof p.listGroups === 'function')
}

/**
 * Why sync answers 503 FST_DISCORD_SYNC_NOT_CONFIGURED: the option to set, and what it must do.
 * One wording for every route and API that needs a provider.
 */
export const NO_MEMBERSHIP_PROVIDER = 'no membership provider. Set the plugin option `membership` to an object whose ' +
  '`getMembership(userId)` returns the host user\'s groups ({ groups, character_count, permissions }, or null); ' +
  'until then no role is written'

/** The host's provider takes no signal: a cancelled run stops waiting for it (shutdown must not hang on it). */
export async function abortable<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
