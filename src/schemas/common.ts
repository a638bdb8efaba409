import { Type, type Static } from '@sinclair/typebox'

/** Every error the plugin's routes send has this shape; `code` is stable (FST_DISCORD_...). */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
}, { $id: 'DiscordSyncError', description: 'Error with a stable code' })
export type ErrorResponseBody = Static<typeof ErrorResponse>

export const Snowflake = Type.String({ pattern: '^\\d{17,20}$', description: 'Discord snowflake id' })
