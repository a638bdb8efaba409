/*
 * Discord's error bodies (docs/reference.mdx "Error Messages", docs/opcodes-and-status-codes.mdx
 * "JSON Error Codes"): `{ code, message, errors? }`. Messages are short titles of the documented
 * meanings; clients must key on `code`, never on the text.
 */

export interface DiscordErrorBody {
  code: number
  message: string
  errors?: ErrorTree
}

/** Nested by field path; leaves are `{ _errors: [{ code, message }] }` (docs: "Array Error", "Object Error"). */
export interface ErrorTree {
  _errors?: Array<{ code: string, message: string }>
  [key: string]: ErrorTree | Array<{ code: string, message: string }> | undefined
}

/**
 * An error answer a handler throws: the API pipeline sends `body` with `status` and `headers`.
 * Each error shape (Discord's here, OAuth2's in oauth/errors.ts) is a subclass.
 */
export class HttpError<Body extends object = object> extends Error {
  readonly status: number
  readonly body: Body
  readonly headers: Readonly<Record<string, string>>

  constructor (status: number, body: Body, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.body = body
    this.headers = headers
  }
}

export class DiscordHttpError extends HttpError<DiscordErrorBody> {
  constructor (status: number, body: DiscordErrorBody) {
    super(status, body, body.message)
  }
}

export const Errors = {
  unauthorized: () => new DiscordHttpError(401, { message: '401: Unauthorized', code: 0 }),
  notFound: () => new DiscordHttpError(404, { message: '404: Not Found', code: 0 }),
  methodNotAllowed: () => new DiscordHttpError(405, { message: '405: Method Not Allowed', code: 0 }),
  unknownChannel: () => new DiscordHttpError(404, { message: 'Unknown Channel', code: 10003 }),
  unknownGuild: () => new DiscordHttpError(404, { message: 'Unknown Guild', code: 10004 }),
  unknownMember: () => new DiscordHttpError(404, { message: 'Unknown Member', code: 10007 }),
  unknownRole: () => new DiscordHttpError(404, { message: 'Unknown Role', code: 10011 }),
  unknownUser: () => new DiscordHttpError(404, { message: 'Unknown User', code: 10013 }),
  missingAccess: () => new DiscordHttpError(403, { message: 'Missing Access', code: 50001 }),
  maxGuilds: () => new DiscordHttpError(400, { message: 'Maximum number of guilds reached (100)', code: 30001 }),
  invalidOAuthToken: () => new DiscordHttpError(403, { message: 'Invalid OAuth2 access token provided', code: 50025 }),
  missingPermissions: () => new DiscordHttpError(403, { message: 'Missing Permissions', code: 50013 }),
  emptyMessage: () => new DiscordHttpError(400, { message: 'Cannot send an empty message', code: 50006 }),
  invalidJson: () => new DiscordHttpError(400, { message: 'The request body contains invalid JSON.', code: 50109 }),
  invalidFormBody: (errors: ErrorTree) => new DiscordHttpError(400, { message: 'Invalid Form Body', code: 50035, errors })
}

/** Builds the nested 50035 tree from (path, code, message) triples; path segments are keys or array indexes. */
export function formErrors (issues: ReadonlyArray<{ path: readonly string[], code: string, message: string }>): ErrorTree {
  const root: ErrorTree = {}
  for (const issue of issues) {
    let node = root
    for (const segment of issue.path) {
      const child = node[segment]
      if (child === undefined || Array.isArray(child)) {
        const fresh: ErrorTree = {}
        node[segment] = fresh
        node = fresh
      } else {
        node = child
      }
    }
    node._errors ??= []
    node._errors.push({ code: issue.code, message: issue.message })
  }
  return root
}
