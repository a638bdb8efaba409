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

/** A stored secret could not be decrypted (unknown key id, tampered ciphertext). */
export const SecretDecryptError = createError('FST_DISCORD_SECRET_DECRYPT', 'A stored secret could not be decrypted (%s)', 500)

/** The encryption key is missing or malformed. */
export const EncryptionKeyError = createError('FST_DISCORD_ENCRYPTION_KEY', '%s', 500)

/** A route needs Discord credentials that this deployment does not have. */
export const DiscordNotConfiguredError = createError('FST_DISCORD_NOT_CONFIGURED', 'Discord is not configured: %s', 503)

/** Request input failed validation (body, params, query, headers). */
export const ValidationError = createError('FST_DISCORD_VALIDATION', '%s', 400)
