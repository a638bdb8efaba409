import type { MembershipProvider, ResolvedUser, ResolveUserHook } from '../../src/index.js'
import type { HostDatabase } from './db.js'

/*
 * The two places where the plugin asks the host something. Both read the host's own tables;
 * the plugin keeps no copy of the host's users, groups or permissions.
 */

/**
 * `auth.resolveUser`: who a Discord login is in this host. An account already linked signs in as
 * its host user; a Discord account seen for the first time gets a new host user with no groups
 * (sign-up through Discord). Either way the session carries the permissions the host's own
 * permission model grants today, so an officer is an admin of the plugin (`discord:admin`) and a
 * member is not.
 */
export function resolveDiscordLogin (db: HostDatabase): ResolveUserHook {
  return (profile, { linkedUserId }): ResolvedUser => {
    const known = linkedUserId === null ? null : db.findUser(linkedUserId)
    const user = known ?? db.createUser({
      // Discord usernames are unique, but a host user may already carry the name: keep both apart.
      username: db.findUserByUsername(profile.username) === null ? profile.username : `${profile.username}#${profile.id}`,
      displayName: profile.global_name ?? profile.username
    })
    return { id: user.id, permissions: db.permissionsOf(user.id) }
  }
}

/** `membership`: each user's groups, character count and permissions, straight from the host's tables. */
export function hostMembership (db: HostDatabase): MembershipProvider {
  return {
    getMembership: (userId) => db.membership(userId),
    // One call per members page of a guild sync (up to 1000 users) instead of one per user.
    getMemberships: (userIds) => db.memberships(userIds),
    // Every host group, so the admin UI's mapping editor offers them by name.
    listGroups: () => db.listGroups().map((g) => ({ id: g.id, name: g.name }))
  }
}
