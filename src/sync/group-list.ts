/*
 * The membership provider's optional group list (MembershipProvider.listGroups), read for the
 * admin UI's group picker. Host code is outside input: the answer is validated whole, so a bug
 * shows as one clear error instead of a picker offering garbage, and a hung or throwing provider
 * is reported as unavailable (the editor then takes the group id as free text).
 */
import { MAX_GROUPS, MAX_ID_LENGTH, MembershipInvalidError, MembershipUnavailableError, type MembershipProvider } from './membership.js'
import type { UserGroup } from './types.js'

/** Longest group name kept: names are labels, and a page of 10 000 must stay small. */
const MAX_NAME_LENGTH = 200

/** Validates a `listGroups()` answer: unique ids, names defaulting to the id, sorted by name then id. */
export function toGroupList (raw: unknown): UserGroup[] {
  if (!Array.isArray(raw)) throw new MembershipInvalidError('listGroups must return an array')
  if (raw.length > MAX_GROUPS) throw new MembershipInvalidError(`listGroups returned more than ${MAX_GROUPS} groups`)
  const byId = new Map<string, UserGroup>()
  for (const g of raw) {
    if (typeof g !== 'object' || g === null || typeof (g as UserGroup).id !== 'string' || (g as UserGroup).id.length === 0 || (g as UserGroup).id.length > MAX_ID_LENGTH) {
      throw new MembershipInvalidError(`every listed group needs an id of 1-${MAX_ID_LENGTH} characters`)
    }
    const { id, name } = g as { id: string, name?: unknown }
    if (name !== undefined && typeof name !== 'string') throw new MembershipInvalidError('a listed group\'s name must be a string')
    if (byId.has(id)) throw new MembershipInvalidError('listGroups returned a group id twice')
    const label = typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, MAX_NAME_LENGTH) : id
    byId.set(id, { id, name: label })
  }
  return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/**
 * The provider's groups; null when it offers no list. Throws MembershipInvalidError for a bad
 * answer and MembershipUnavailableError when the provider failed or timed out.
 */
export async function readGroupList (provider: MembershipProvider | null): Promise<UserGroup[] | null> {
  if (provider === null || typeof provider.listGroups !== 'function') return null
  let raw: unknown
  try {
    raw = await provider.listGroups()
  } catch (err) {
    throw new MembershipUnavailableError(err)
  }
  return toGroupList(raw)
}
