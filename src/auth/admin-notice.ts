import type { ResolvedAuthOptions } from '../options/index.js'

/*
 * A host that registers the plugin without `auth.resolveUser` gets sessions for people who sign
 * in with Discord, but none of them is an admin: the login flow cannot know the host's users or
 * permissions. Without a word, the admin UI then refuses everybody and nobody knows why; the
 * plugin says it once, at registration, with the option names that change it.
 */

/** The start-up notice for a plugin without `auth.resolveUser`, or null when the host set it. */
export function adminNotice (auth: ResolvedAuthOptions): string | null {
  if (auth.resolveUser !== null) return null
  const admins = auth.isAdmin !== null
    ? 'callers for whom your `auth.isAdmin(user, request)` returns true'
    : `callers whose session carries the permission "${auth.adminPermission}" in its "${auth.permissionsClaim}" claim ` +
      '(`auth.adminPermission`, `auth.permissionsClaim`; or decide with `auth.isAdmin`)'
  return 'auth.resolveUser is not set: a Discord login becomes the host user it is already linked to, or a new random id, ' +
    `with no permissions, so nobody who signs in through the plugin is an admin. Admins are ${admins}. ` +
    'Set `auth.resolveUser(profile, { linkedUserId })` to return your user id and permissions, ' +
    'or issue the session JWT yourself (same `auth.jwtSecret`).'
}
