import type { APIUser } from 'discord-api-types/v10'
import { Routes } from './routes.js'
import type { CallOptions, Send } from './types.js'
import { expectEntity, shapeContext } from './validate.js'

/** GET /users/@me as whichever credential `send` is bound to: the bot view and the user view share it. */
export async function fetchCurrentUser (send: Send, options: CallOptions): Promise<APIUser> {
  const path = Routes.user()
  const value = await send<unknown>({ method: 'GET', path, signal: options.signal })
  return expectEntity<APIUser>(value, shapeContext('GET', path), 'a user')
}
