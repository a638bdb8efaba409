import { DiscordAuthenticationError } from '../errors/authentication-error.js'
import { DiscordAPIError, describeFailure } from '../errors/discord-api-error.js'
import { DiscordMalformedResponseError } from '../errors/malformed-response-error.js'
import { DiscordNotFoundError } from '../errors/not-found-error.js'
import { DiscordOAuthError } from '../errors/oauth-error.js'
import { DiscordPermissionError } from '../errors/permission-error.js'
import { DiscordServerError } from '../errors/server-error.js'
import type { RouteInfo } from '../route.js'
import type { InternalRequest } from '../types.js'
import { isRecord } from '../validate.js'
import { parseJson, type Outcome, type RawResponse } from './outcome.js'

/** Maps a non-429 answer to a value, a retry (5xx) or a typed error. */
export function classifyResponse (request: InternalRequest, route: RouteInfo, response: RawResponse): Outcome {
  const { status, text } = response
  const method = request.method
  const template = route.template
  if (status >= 200 && status < 300) {
    if (status === 204 || text.length === 0) return { kind: 'ok', value: undefined }
    const parsed = parseJson(text)
    if (!parsed.ok) {
      throw new DiscordMalformedResponseError({
        method,
        route: template,
        status,
        message: describeFailure('Malformed Discord response: the body is not valid JSON', method, template, status)
      })
    }
    return { kind: 'ok', value: parsed.value }
  }
  const parsed = parseJson(text)
  const json = parsed.ok && isRecord(parsed.value) ? parsed.value : undefined
  const discordCode = typeof json?.code === 'number' ? json.code : undefined
  const discordMessage = typeof json?.message === 'string' && json.message.length > 0 ? json.message : `HTTP ${status}`
  const base = { method, route: template, status, discordCode, errors: json?.errors }
  if (status >= 500) {
    return { kind: 'retry', reason: 'server_error', status, error: new DiscordServerError({ ...base, message: describeFailure(discordMessage, method, template, status, discordCode) }) }
  }
  if (request.oauth === true && typeof json?.error === 'string') {
    const description = typeof json.error_description === 'string' ? json.error_description : undefined
    throw new DiscordOAuthError({
      ...base,
      message: describeFailure(`OAuth2 error ${json.error}${description === undefined ? '' : `: ${description}`}`, method, template, status),
      oauthError: json.error,
      description
    })
  }
  const message = describeFailure(discordMessage, method, template, status, discordCode)
  if (status === 401) throw new DiscordAuthenticationError({ ...base, message })
  if (status === 403) throw new DiscordPermissionError({ ...base, message })
  if (status === 404) throw new DiscordNotFoundError({ ...base, message })
  throw new DiscordAPIError({ ...base, message })
}
