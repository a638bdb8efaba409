/* OAuth2 scopes: the known set, and how a scope parameter is read. */

/** Every scope docs/oauth2.mdx lists, plus `openid` from openapi.json's OAuth2 security scheme. */
export const KNOWN_SCOPES = new Set([
  'activities.read', 'activities.write', 'applications.builds.read', 'applications.builds.upload', 'applications.commands',
  'applications.commands.update', 'applications.commands.permissions.update', 'applications.entitlements', 'applications.store.update',
  'bot', 'connections', 'dm_channels.read', 'email', 'gdm.join', 'guilds', 'guilds.join', 'guilds.members.read', 'identify',
  'identify.premium', 'messages.read', 'openid', 'relationships.read', 'role_connections.write', 'rpc', 'rpc.activities.write',
  'rpc.notifications.read', 'rpc.voice.read', 'rpc.voice.write', 'voice', 'webhook.incoming'
])

/** Scopes split on spaces (docs: "a list of OAuth2 scopes separated by url encoded spaces"), order kept, duplicates dropped. */
export function parseScopes (raw: string | undefined): string[] {
  return [...new Set((raw ?? '').split(' ').filter((s) => s.length > 0))]
}
