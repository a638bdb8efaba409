/*
 * The Discord REST paths this package calls, as discord-api-types' `Routes` writes them (same
 * names, same results) and as /work/shared/discord documents them (openapi.json paths;
 * docs/oauth2.mdx for the token and revocation URLs).
 *
 * Kept here rather than imported: discord-api-types/v10 is one CommonJS module graph of every
 * Discord payload, REST and Gateway enum, 4–6 MB and 100–200 ms to load (issue 16, part 4), and
 * these few templates were all this package used of it at run time. Its types are still used
 * everywhere (type-only imports cost nothing at run time).
 */
export const Routes = {
  applicationRoleConnectionMetadata: (applicationId: string) => `/applications/${applicationId}/role-connections/metadata` as const,
  channelMessages: (channelId: string) => `/channels/${channelId}/messages` as const,
  gatewayBot: () => '/gateway/bot' as const,
  guild: (guildId: string) => `/guilds/${guildId}` as const,
  guildChannels: (guildId: string) => `/guilds/${guildId}/channels` as const,
  guildMember: (guildId: string, userId = '@me') => `/guilds/${guildId}/members/${userId}` as const,
  guildMemberRole: (guildId: string, memberId: string, roleId: string) => `/guilds/${guildId}/members/${memberId}/roles/${roleId}` as const,
  guildMembers: (guildId: string) => `/guilds/${guildId}/members` as const,
  guildRoles: (guildId: string) => `/guilds/${guildId}/roles` as const,
  oauth2TokenExchange: () => '/oauth2/token' as const,
  oauth2TokenRevocation: () => '/oauth2/token/revoke' as const,
  oauth2CurrentAuthorization: () => '/oauth2/@me' as const,
  user: (userId = '@me') => `/users/${userId}` as const,
  userApplicationRoleConnection: (applicationId: string) => `/users/@me/applications/${applicationId}/role-connection` as const,
  userGuilds: () => '/users/@me/guilds' as const
}
