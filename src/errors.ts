import createError from '@fastify/error'

/*
 * Every error the plugin raises toward a client is declared here once, with its
 * HTTP status, so codes stay stable and are documented in one place.
 * Messages never interpolate secrets: callers pass ids and names only.
 */

/** Plugin options failed validation; the message names the option. */
export const InvalidOptionsError = createError('FST_DISCORD_INVALID_OPTIONS', 'Invalid fastify-discord-sync option %s', 500)

/** The plugin was registered twice on the same instance tree. */
export const AlreadyRegisteredError = createError('FST_DISCORD_ALREADY_REGISTERED', 'fastify-discord-sync is already registered on this instance', 500)

/** A unique constraint of the store was violated (same code for every adapter). */
export const StoreConflictError = createError('FST_DISCORD_CONFLICT', '%s', 409)

/** A record the caller named does not exist. */
export const NotFoundError = createError('FST_DISCORD_NOT_FOUND', '%s', 404)

/** The store could not be reached or failed unexpectedly. */
export const StoreUnavailableError = createError('FST_DISCORD_STORE_UNAVAILABLE', 'The Discord store is unavailable: %s', 503)

/**
 * Another process already writes this SQLite file and there is no Redis to share rate limits and
 * locks with it (two writers would each spend Discord's limits as if alone). Raised at start-up.
 */
export const StoreInUseError = createError('FST_DISCORD_STORE_IN_USE', '%s', 503)

/**
 * An optional peer dependency the configuration needs is not installed (`mongodb` for a MongoDB
 * store, `ioredis` for a Redis URL, `better-sqlite3` for the default SQLite store). Raised at
 * start-up; the message names the package and the option that needs it.
 */
export const DependencyMissingError = createError('FST_DISCORD_DEPENDENCY_MISSING', '%s needs the package "%s", which is not installed: run `npm install %s`', 500)

/** A stored secret could not be decrypted (unknown key id, tampered ciphertext). */
export const SecretDecryptError = createError('FST_DISCORD_SECRET_DECRYPT', 'A stored secret could not be decrypted (%s)', 500)

/** The encryption key is missing or malformed. */
export const EncryptionKeyError = createError('FST_DISCORD_ENCRYPTION_KEY', '%s', 500)

/** A route needs Discord credentials that this deployment does not have. */
export const DiscordNotConfiguredError = createError('FST_DISCORD_NOT_CONFIGURED', 'Discord is not configured: %s', 503)

/** Request input failed validation (body, params, query, headers). */
export const ValidationError = createError('FST_DISCORD_VALIDATION', '%s', 400)

// ---------------------------------------------------------------- authentication and OAuth2

/** No session token was sent (neither `Authorization: Bearer` nor the session cookie). */
export const AuthRequiredError = createError('FST_DISCORD_AUTH_REQUIRED', 'Authentication required: send "Authorization: Bearer <jwt>" or the %s cookie', 401)

/** A session token was sent but does not verify (bad signature, malformed, missing user id claim). */
export const AuthTokenInvalidError = createError('FST_DISCORD_AUTH_TOKEN_INVALID', 'The session token is invalid: %s', 401)

/** A session token was sent and verifies, but has expired. */
export const AuthTokenExpiredError = createError('FST_DISCORD_AUTH_TOKEN_EXPIRED', 'The session token has expired', 401)

/** Authenticated, but not allowed to do this (not the owner, not an admin). */
export const ForbiddenError = createError('FST_DISCORD_FORBIDDEN', '%s', 403)

/**
 * A state-changing request authenticated by the session cookie came without the X-Requested-With
 * header. Browsers attach cookies to cross-site form posts, but no cross-site page can add a custom
 * header without a CORS preflight this plugin never approves, so the header proves the request
 * came from a same-origin script.
 */
export const CsrfHeaderRequiredError = createError('FST_DISCORD_CSRF_HEADER_REQUIRED', 'State-changing requests authenticated by the session cookie must send the X-Requested-With header or a JSON body (API clients: use "Authorization: Bearer <jwt>")', 403)

/** No JWT secret/key was configured and the host registered no @fastify/jwt: sessions cannot be issued or checked. */
export const AuthNotConfiguredError = createError('FST_DISCORD_AUTH_NOT_CONFIGURED', 'Authentication is not configured: %s', 503)

/** The OAuth state is not one we issued (forged), or it was purged after expiry. Nothing was written. */
export const OAuthStateUnknownError = createError('FST_DISCORD_OAUTH_STATE_UNKNOWN', 'Unknown OAuth state: start the Discord login again', 400)

/** The OAuth state expired before the callback arrived. Nothing was written. */
export const OAuthStateExpiredError = createError('FST_DISCORD_OAUTH_STATE_EXPIRED', 'The OAuth state has expired: start the Discord login again', 400)

/** The OAuth state was already used once (replay). Nothing was written. */
export const OAuthStateUsedError = createError('FST_DISCORD_OAUTH_STATE_USED', 'The OAuth state was already used: start the Discord login again', 400)

/** The OAuth state was issued for another flow or another user than the one completing it. */
export const OAuthStateMismatchError = createError('FST_DISCORD_OAUTH_STATE_MISMATCH', 'The OAuth state does not belong to this flow: %s', 400)

/**
 * The callback came from a browser other than the one that started the flow: the state's binding
 * cookie is missing or does not match (`auth.bindStateToBrowser`). Refused so an attacker's flow
 * cannot be completed in a victim's browser (login CSRF, or the victim's account linked to the
 * attacker's user). The state is consumed; nothing was written.
 */
export const OAuthBrowserMismatchError = createError('FST_DISCORD_OAUTH_BROWSER_MISMATCH', 'The Discord login was started in another browser, or this browser did not keep its cookie: start it again here', 400)

/** The callback carried neither `code` nor Discord's `error`. */
export const OAuthCodeMissingError = createError('FST_DISCORD_OAUTH_CODE_MISSING', 'The Discord callback is missing the "code" parameter', 400)

/** Discord redirected back with `error` (the user cancelled, or the request was refused). */
export const OAuthDeniedError = createError('FST_DISCORD_OAUTH_DENIED', 'Discord authorisation was not granted (%s)', 400)

/** Discord answered invalid_grant to the code exchange: the code is wrong, expired or already used. */
export const OAuthInvalidGrantError = createError('FST_DISCORD_OAUTH_INVALID_GRANT', 'Discord rejected the authorisation code (invalid_grant): start the Discord login again', 400)

/** Discord failed or refused a call we needed (5xx, timeout, rate limit, rejected client credentials). */
export const DiscordUpstreamError = createError('FST_DISCORD_UPSTREAM', 'Discord request failed: %s', 502)

/** `redirect_url` is not on the configured allow-list (no open redirects). */
export const RedirectNotAllowedError = createError('FST_DISCORD_REDIRECT_NOT_ALLOWED', 'redirect_url is not allowed: %s', 400)

/** A requested OAuth2 scope is not on the allow-list. */
export const ScopeNotAllowedError = createError('FST_DISCORD_SCOPE_NOT_ALLOWED', '%s', 400)

/** The Discord account is already linked to another user. */
export const AccountLinkedElsewhereError = createError('FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE', 'This Discord account is already linked to another user', 409)

// ---------------------------------------------------------------- guilds and role mappings

/** Discord rejected the bot token (401): it is wrong, reset or revoked. Nothing was stored. */
export const BotTokenInvalidError = createError('FST_DISCORD_BOT_TOKEN_INVALID', 'Discord rejected the bot token (401 Unauthorized): %s', 422)

/** The bot lacks a permission it needs in the guild; the message names it. */
export const BotMissingPermissionError = createError('FST_DISCORD_BOT_MISSING_PERMISSION', '%s', 422)

/** Discord does not know the guild (10004), or the bot cannot see it. */
export const GuildUnknownError = createError('FST_DISCORD_GUILD_UNKNOWN', 'Discord does not know guild %s, or the bot cannot see it (10004 Unknown Guild)', 422)

/** The bot is not a member of the guild (50001 Missing Access or 10007 Unknown Member for the bot itself). */
export const BotNotInGuildError = createError('FST_DISCORD_BOT_NOT_IN_GUILD', 'The bot is not a member of guild %s: invite it with the Manage Roles permission first', 422)

/** The guild has no bot token, so nothing can be checked against Discord. */
export const GuildNoBotTokenError = createError('FST_DISCORD_GUILD_NO_BOT_TOKEN', 'Guild %s has no bot token: set one with PUT /guilds/{guild_id} ({"bot_token": "..."}) first', 422)

/** The mapped role does not exist in the guild (anymore). */
export const RoleNotFoundError = createError('FST_DISCORD_ROLE_NOT_FOUND', '%s', 422)

/** @everyone cannot be mapped: every member has it. */
export const RoleEveryoneError = createError('FST_DISCORD_ROLE_EVERYONE', '%s', 422)

/** The role is managed by an integration (bot role, booster role...): nobody can assign it. */
export const RoleManagedError = createError('FST_DISCORD_ROLE_MANAGED', '%s', 422)

/** The role is not below the bot's highest role, so Discord would refuse every assignment (50013). */
export const RoleAboveBotError = createError('FST_DISCORD_ROLE_ABOVE_BOT', '%s', 422)

/**
 * A guild setting names a channel the bot cannot post in (not a channel of the guild, not a text
 * channel, no View Channels / Send Messages there), or cannot be checked without a bot token.
 * The message names the setting and what to fix.
 */
export const ChannelInvalidError = createError('FST_DISCORD_CHANNEL_INVALID', '%s', 422)

/** A bulk import had invalid entries; nothing was written. The response carries the full report. */
export const ImportInvalidError = createError('FST_DISCORD_IMPORT_INVALID', '%s', 422)

// ---------------------------------------------------------------- request limits

/** The request body is over the route's size limit. */
export const PayloadTooLargeError = createError('FST_DISCORD_PAYLOAD_TOO_LARGE', 'Request body too large: %s', 413)

/** The request body is not JSON (the plugin's write routes accept application/json only). */
export const UnsupportedMediaTypeError = createError('FST_DISCORD_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type: %s', 415)

/** Too many requests from this user (or IP when anonymous); `Retry-After` says when to come back. */
export const RateLimitedError = createError('FST_DISCORD_RATE_LIMITED', 'Too many requests: retry in %s', 429)

// ---------------------------------------------------------------- role synchronisation

/** No membership provider was given (`membership` option), so nobody's entitlements are known. */
export const SyncNotConfiguredError = createError('FST_DISCORD_SYNC_NOT_CONFIGURED', 'Role sync is not configured: %s', 503)

/** A sync of the same guild (or a full sync) is running; `run_id` in the body names it. */
export const SyncInProgressError = createError('FST_DISCORD_SYNC_IN_PROGRESS', 'A sync of %s is already running (run %s): wait for it, or watch it at GET /sync/runs/{id}', 409)

/** The host user has no (active) linked Discord account. */
export const UserNotLinkedError = createError('FST_DISCORD_USER_NOT_LINKED', 'User %s has no linked Discord account', 404)

/** The guild is configured but disabled; it is never synced until enabled. */
export const GuildDisabledError = createError('FST_DISCORD_GUILD_DISABLED', 'Guild %s is disabled: enable it before syncing it', 422)

/** The mapping is disabled, so it manages no role and a mapping sync would do nothing. */
export const MappingDisabledError = createError('FST_DISCORD_MAPPING_DISABLED', 'Role mapping %s is disabled: enable it before syncing it', 422)

/** The sync lock (Redis) could not be reached; no run was started rather than risk two at once. */
export const SyncLockUnavailableError = createError('FST_DISCORD_SYNC_LOCK_UNAVAILABLE', 'The sync lock is unavailable (%s): try again shortly', 503)

/** The plugin is closing; no new run starts. */
export const SyncShuttingDownError = createError('FST_DISCORD_SYNC_SHUTTING_DOWN', 'The server is shutting down: no new sync runs start', 503)

/** The membership provider failed or answered garbage when asked for its group list (GET /membership/groups). */
export const MembershipUnavailableHttpError = createError('FST_DISCORD_MEMBERSHIP_UNAVAILABLE', 'The membership provider could not list its groups: %s', 502)

// ---------------------------------------------------------------- live events

/** A Webhook Event whose Ed25519 signature or timestamp does not verify (Discord expects 401). */
export const WebhookSignatureError = createError('FST_DISCORD_WEBHOOK_SIGNATURE_INVALID', 'Invalid webhook event request: %s', 401)
