import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, opt, required, Snowflakeish } from './define.js'
import { fail } from './fail.js'

/** Scopes a login/link flow may request. Anything else is refused (least privilege). */
export const ALLOWED_SCOPES = Object.freeze([
  'identify', 'email', 'guilds', 'guilds.join', 'guilds.members.read', 'connections', 'role_connections.write'
])

export const DiscordAppSchema = Type.Object({
  clientId: required(Snowflakeish, { description: 'OAuth2 application (client) id.' }),
  clientSecret: required(Type.String({ minLength: 1 }), { description: 'OAuth2 client secret. Never logged or returned.' }),
  redirectUri: required(Type.String({ pattern: '^https?://[^\\s]+$' }), { description: 'Redirect URI registered with Discord for the callback route.' }),
  scopes: opt(Type.Union([Type.String(), Type.Array(Type.String())]), {
    default: ['identify', 'guilds'],
    description: 'Default scopes for login, space-separated or a list. Only allow-listed Discord scopes are accepted: ' +
      `${ALLOWED_SCOPES.join(', ')}.`
  }),
  apiBaseUrl: opt(Type.String({ pattern: '^https?://' }), { defaultText: 'the top-level `apiBaseUrl`', description: 'Discord REST base URL.' }),
  authorizeUrl: opt(Type.String({ pattern: '^https?://' }), { default: 'https://discord.com/oauth2/authorize', description: 'OAuth2 authorize page.' }),
  publicKey: opt(Type.String({ pattern: '^[0-9a-fA-F]{64}$' }), {
    defaultText: 'none: POST {routePrefix}/webhooks/events answers 503',
    description: 'The application public key (64 hex characters, Developer Portal → General Information): verifies the signature of Webhook Events ' +
      '(APPLICATION_DEAUTHORIZED removes the link and its managed roles).'
  })
}, {
  additionalProperties: false,
  defaultText: 'none: Discord-dependent routes answer 503 FST_DISCORD_NOT_CONFIGURED',
  description: 'The Discord application.'
})

/** The Discord application. When absent, Discord-dependent routes answer 503 FST_DISCORD_NOT_CONFIGURED. */
export type DiscordAppOptions = Static<typeof DiscordAppSchema>

export interface ResolvedDiscordApp {
  clientId: string
  clientSecret: string
  redirectUri: string
  scopes: string[]
  authorizeUrl: string
  /** Hex Ed25519 public key of the application, or null (Webhook Events are then refused with 503). */
  publicKey: string | null
}

/** Refuses URLs the schema's pattern lets through but no URL parser accepts. */
export function checkDiscordUrls (d: DiscordAppOptions): void {
  for (const key of ['redirectUri', 'apiBaseUrl', 'authorizeUrl'] as const) {
    const v = d[key]
    if (v !== undefined && !URL.canParse(v)) fail(`discord.${key}`, 'must be an absolute http(s) URL')
  }
}

const DEFAULTS = defaultsOf(DiscordAppSchema)

export function resolveScopes (value: string | string[] | undefined, option: string): string[] {
  if (value === undefined) return [...DEFAULTS.scopes]
  const list = (Array.isArray(value) ? value : value.split(/[\s+]+/)).map((s) => s.trim()).filter(Boolean)
  if (list.length === 0) fail(option, 'must name at least one scope')
  for (const s of list) if (!ALLOWED_SCOPES.includes(s)) fail(option, `scope "${s}" is not allowed (allowed: ${ALLOWED_SCOPES.join(', ')})`)
  return [...new Set(list)]
}

export function resolveDiscordApp (d: DiscordAppOptions): ResolvedDiscordApp {
  return {
    clientId: d.clientId,
    clientSecret: d.clientSecret,
    redirectUri: d.redirectUri,
    scopes: resolveScopes(d.scopes, 'discord.scopes'),
    authorizeUrl: d.authorizeUrl ?? DEFAULTS.authorizeUrl,
    publicKey: d.publicKey?.toLowerCase() ?? null
  }
}
