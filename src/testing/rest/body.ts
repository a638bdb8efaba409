import type { FastifyInstance } from 'fastify'
import { Errors } from './errors.js'

/** Parsed application/x-www-form-urlencoded body; kept distinct so JSON-only and form-only routes can tell them apart. */
export class FormBody {
  readonly fields: Record<string, string> = {}
  /** Parameters sent more than once (RFC 6749 3.1/3.2: must not be repeated). */
  readonly duplicates: string[] = []

  constructor (raw: string) {
    for (const [key, value] of new URLSearchParams(raw)) {
      if (Object.hasOwn(this.fields, key)) this.duplicates.push(key)
      else this.fields[key] = value
    }
  }
}

/**
 * Root-level body parsers. JSON: an empty body is "no body" (PUT role with a JSON content type and
 * nothing in it is legal), invalid JSON is Discord's 50109. Forms: parsed for the OAuth2 endpoints.
 * text/plain is removed: docs/reference.mdx "Content Type" allows only JSON, form and multipart,
 * and anything else is a 50035.
 */
export function installBodyParsers (app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch {
      done(Errors.invalidJson(), undefined)
    }
  })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new FormBody(body as string))
  })
}
