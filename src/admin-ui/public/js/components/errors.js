// @ts-check
/*
 * Errors on the page in words an officer can act on: each stable code of the API
 * (src/errors.ts) has a sentence saying what to do; the API's own message (which may be a
 * validator's "querystring/from must match pattern") follows as the detail, with the code, for
 * whoever reports it. Never a stack or a raw body. An error stays until dismissed or until the
 * next action replaces it.
 */
import { ApiError } from '../api.js'
import { byId, h } from '../dom.js'

/**
 * What to do, per error code. test/admin/error-sentences.test.ts checks every code declared in
 * src/errors.ts has one.
 * @type {Record<string, string>}
 */
export const ERROR_SENTENCES = {
  FST_DISCORD_INVALID_OPTIONS: 'The server\'s configuration is invalid. Ask whoever runs it to check the plugin options.',
  FST_DISCORD_ALREADY_REGISTERED: 'The server loaded this plugin twice. Ask whoever runs it to register it once.',
  FST_DISCORD_CONFLICT: 'That already exists. Change the name or id, or edit the existing one instead.',
  FST_DISCORD_NOT_FOUND: 'It no longer exists: someone may have deleted it. Reload the page.',
  FST_DISCORD_STORE_UNAVAILABLE: 'The database is not answering. Try again in a minute; if it lasts, tell whoever runs the server.',
  FST_DISCORD_STORE_IN_USE: 'Another server process is using the database. Stop it, or tell whoever runs the server.',
  FST_DISCORD_DEPENDENCY_MISSING: 'The server lacks a package it needs. Tell whoever runs it (the detail names the package).',
  FST_DISCORD_SECRET_DECRYPT: 'A stored secret cannot be read with the server\'s encryption key. Set the bot token again, or tell whoever runs the server.',
  FST_DISCORD_ENCRYPTION_KEY: 'The server\'s encryption key is wrong or missing. Tell whoever runs the server.',
  FST_DISCORD_NOT_CONFIGURED: 'Discord is not set up on this server yet. Tell whoever runs it to configure the Discord application.',
  FST_DISCORD_VALIDATION: 'Some of what was entered is not valid. Check the fields and try again.',
  FST_DISCORD_AUTH_REQUIRED: 'You are signed out. Sign in again.',
  FST_DISCORD_AUTH_TOKEN_INVALID: 'Your session is no longer valid. Sign in again.',
  FST_DISCORD_AUTH_TOKEN_EXPIRED: 'Your session has expired. Sign in again.',
  FST_DISCORD_FORBIDDEN: 'You do not have permission for this. Ask an admin.',
  FST_DISCORD_CSRF_HEADER_REQUIRED: 'The request was refused as possibly cross-site. Reload the page and try again.',
  FST_DISCORD_AUTH_NOT_CONFIGURED: 'Sign-in is not set up on this server. Tell whoever runs it.',
  FST_DISCORD_OAUTH_STATE_UNKNOWN: 'That Discord sign-in link is not known. Start signing in again.',
  FST_DISCORD_OAUTH_STATE_EXPIRED: 'The Discord sign-in took too long. Start it again.',
  FST_DISCORD_OAUTH_STATE_USED: 'That Discord sign-in was already used. Start it again.',
  FST_DISCORD_OAUTH_STATE_MISMATCH: 'The Discord sign-in got mixed up with another one. Start it again.',
  FST_DISCORD_OAUTH_BROWSER_MISMATCH: 'The Discord sign-in was started in another browser. Start it again in this one.',
  FST_DISCORD_OAUTH_CODE_MISSING: 'Discord did not send the sign-in back. Start it again.',
  FST_DISCORD_OAUTH_DENIED: 'Discord authorisation was cancelled or refused: nothing changed. Try again and choose Authorize.',
  FST_DISCORD_OAUTH_INVALID_GRANT: 'Discord refused the sign-in. Start it again.',
  FST_DISCORD_UPSTREAM: 'Discord did not answer as expected. Try again in a minute.',
  FST_DISCORD_REDIRECT_NOT_ALLOWED: 'That return address is not allowed. Use the link from this page.',
  FST_DISCORD_SCOPE_NOT_ALLOWED: 'That Discord permission is not allowed here.',
  FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE: 'This Discord account is linked to another user. Unlink it there first, or sign in with another Discord account.',
  FST_DISCORD_BOT_TOKEN_INVALID: 'Discord rejected the bot token. Copy a fresh token from the Discord developer portal and save it again.',
  FST_DISCORD_BOT_MISSING_PERMISSION: 'The bot lacks a permission it needs (the detail names it; Manage Roles for role sync, Manage Nicknames for a nickname template). Give it to the bot\'s role in the server settings, then try again.',
  FST_DISCORD_GUILD_UNKNOWN: 'Discord does not know that server, or the bot cannot see it. Check the server id and invite the bot.',
  FST_DISCORD_BOT_NOT_IN_GUILD: 'The bot is not in that server. Invite it with the Manage Roles permission, then try again.',
  FST_DISCORD_GUILD_NO_BOT_TOKEN: 'This guild has no bot token. Set one in its settings first.',
  FST_DISCORD_ROLE_NOT_FOUND: 'That role no longer exists in Discord. Pick another role.',
  FST_DISCORD_ROLE_EVERYONE: '@everyone cannot be managed. Pick another role.',
  FST_DISCORD_ROLE_MANAGED: 'That role belongs to an integration (a bot or boosts) and cannot be assigned. Pick another role.',
  FST_DISCORD_ROLE_ABOVE_BOT: 'That role is not below the bot\'s highest role. Move the bot\'s role above it in the server settings, or pick another role.',
  FST_DISCORD_CHANNEL_INVALID: 'That channel cannot be used: the bot must see it and be allowed to post there.',
  FST_DISCORD_IMPORT_INVALID: 'The document has mistakes: nothing was imported. Fix the rows listed and try again.',
  FST_DISCORD_PAYLOAD_TOO_LARGE: 'That is too large to send. Send less at a time.',
  FST_DISCORD_UNSUPPORTED_MEDIA_TYPE: 'The server could not read that format. Reload the page and try again.',
  FST_DISCORD_RATE_LIMITED: 'Too many requests in a short time. Wait a moment, then try again.',
  FST_DISCORD_SYNC_NOT_CONFIGURED: 'Role sync is not set up on this server. Tell whoever runs it to configure the membership provider.',
  FST_DISCORD_SYNC_IN_PROGRESS: 'A sync of this is already running. Wait for it to finish (it is listed on the Sync page).',
  FST_DISCORD_USER_NOT_LINKED: 'That user has not linked a Discord account yet.',
  FST_DISCORD_GUILD_DISABLED: 'This guild is disabled. Enable it in its settings before syncing it.',
  FST_DISCORD_MAPPING_DISABLED: 'This mapping is disabled. Enable it before syncing it.',
  FST_DISCORD_SYNC_LOCK_UNAVAILABLE: 'Syncing is paused for a moment (the lock service is not answering). Try again shortly.',
  FST_DISCORD_SYNC_SHUTTING_DOWN: 'The server is restarting. Try again in a minute.',
  FST_DISCORD_MEMBERSHIP_UNAVAILABLE: 'The host\'s list of groups could not be read. Type the group id by hand, or try again in a minute; if it lasts, tell whoever runs the server.',
  FST_DISCORD_WEBHOOK_SIGNATURE_INVALID: 'Discord\'s event could not be verified. Check the application\'s public key.',
  NETWORK: 'The server could not be reached. Check your connection, or whether the server is running.'
}

/**
 * The sentence for an error, or null when there is none (then the API's message is the text).
 * @param {ApiError} err
 */
export function sentenceFor (err) {
  return ERROR_SENTENCES[err.code] ?? (err.status >= 500 ? 'The server had a problem. Try again; if it lasts, tell whoever runs it.' : null)
}

/**
 * @param {unknown} err
 */
export function errorBox (err) {
  if (!(err instanceof ApiError)) console.error(err)
  const box = h('div', { class: 'error', role: 'alert' })
  const dismiss = h('button', { type: 'button', class: 'dismiss secondary', 'aria-label': 'Dismiss this error' }, '×')
  dismiss.addEventListener('click', () => box.remove())
  if (err instanceof ApiError) {
    const sentence = sentenceFor(err)
    // The API's message stays as the detail: it names the field or the role, and the code is what to report.
    box.append(h('span', { class: 'error-text' }, sentence ?? err.message),
      h('span', { class: 'error-detail' }, sentence !== null && err.message !== sentence ? `${err.message} ` : '', err.code ? `(${err.code})` : ''))
  } else {
    box.append(h('span', { class: 'error-text' }, 'Something went wrong in this page. Reload it and try again.'))
  }
  box.append(dismiss)
  return box
}

/**
 * Shows an error at the top of the page, for actions that have no place of their own for it.
 * @param {unknown} err
 */
export function showError (err) {
  const box = errorBox(err)
  box.setAttribute('data-top-error', '')
  byId('main').prepend(box)
}

/** Removes the errors showError put at the top: the next action starts clean. */
export function clearTopErrors () {
  for (const el of byId('main').querySelectorAll('[data-top-error]')) el.remove()
}
