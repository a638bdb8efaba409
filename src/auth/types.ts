import type { FastifyRequest } from 'fastify'
import type { DiscordGuildSummary } from '../store/port/index.js'

/** The caller, as established from a verified session JWT. */
export interface AuthUser {
  /** The host application's user id (from the user-id claim, `sub` by default). */
  id: string
  /** Permissions from the permissions claim (`permissions` by default); empty when absent. */
  permissions: string[]
  /** Every verified claim, for host predicates such as `isAdmin`. */
  claims: Readonly<Record<string, unknown>>
}

/** The Discord account returned by the OAuth2 flow, handed to `resolveUser`. Never contains tokens. */
export interface DiscordProfile {
  id: string
  username: string
  discriminator: string | null
  global_name: string | null
  avatar: string | null
  /** Only with the `email` scope. */
  email: string | null
  /** Only with the `guilds` scope; empty otherwise. */
  guilds: DiscordGuildSummary[]
  /** Scopes Discord granted. */
  scopes: string[]
}

/** What `resolveUser` may return: a user id, or a user id plus the permissions to put in the session. */
export type ResolvedUser = string | { id: string, permissions?: string[] }

export interface ResolveUserContext {
  /** The host user this Discord account is already linked to, or null for a first login. */
  linkedUserId: string | null
}

/**
 * Login flow: maps a Discord account to a host user id.
 * Default: the linked user when the account is already linked, otherwise a new random UUID.
 */
export type ResolveUserHook = (profile: DiscordProfile, context: ResolveUserContext) => ResolvedUser | Promise<ResolvedUser>

/** Decides whether an authenticated caller is an admin. Default: the admin permission is in the permissions claim. */
export type IsAdminHook = (user: AuthUser, request: FastifyRequest) => boolean | Promise<boolean>
