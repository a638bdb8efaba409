import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/**
 * Discord answered 403, typically 50001 (Missing Access) or 50013 (Missing
 * Permissions: the bot lacks Manage Roles, or the role is at or above the
 * bot's highest role, or is managed). `discordCode` says which.
 */
export class DiscordPermissionError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_FORBIDDEN'

  constructor (options: DiscordAPIErrorOptions) {
    super(options)
    this.name = 'DiscordPermissionError'
  }
}
