// @ts-check
/*
 * The HTTP client: every action of the UI is a call to the plugin's JSON API with the session
 * cookie (same origin). Writes carry the X-Requested-With header, which the API requires for
 * cookie-authenticated writes: a cross-site form cannot send it.
 */

/** The plugin's routes live one level above the UI: /api/discord/admin/ → /api/discord/. */
const API = new URL('../', location.href)

/** A failed call: the API's stable code and readable message, or ours when it gave none. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server was not reached or the check was ours
   * @param {string} code
   * @param {string} message
   * @param {unknown} [body] the parsed error body, for errors that carry more (an import report, a run id)
   */
  constructor (status, code, message, body) {
    super(message)
    this.status = status
    this.code = code
    this.body = body
  }
}

/** @type {() => void} */
let onUnauthorized = () => {}

/**
 * What to do when the API answers 401 (the session expired or was revoked meanwhile). It runs
 * before the call's promise rejects; the router sets it, so this module needs none of the pages.
 * @param {() => void} handler
 */
export function setUnauthorizedHandler (handler) {
  onUnauthorized = handler
}

/**
 * Calls the API and returns its parsed JSON (null for an empty body); rejects with ApiError.
 * The caller names the answer's type (types.js), as the API's schema for that route says.
 * @param {'GET' | 'POST' | 'PUT' | 'DELETE'} method
 * @param {string} path relative to the plugin's prefix, e.g. `guilds/123`
 * @param {unknown} [body] sent as JSON
 * @returns {Promise<unknown>}
 */
export async function api (method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json', 'x-requested-with': 'fastify-discord-sync-admin' }
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(new URL(path, API), init)
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached. Is it still running?')
  }
  const text = await res.text()
  /** @type {unknown} */
  let data = null
  if (text !== '') {
    try { data = JSON.parse(text) } catch { data = null }
  }
  if (!res.ok) {
    // The API's errors carry a readable message and a stable code; show those, never a raw body.
    const fields = typeof data === 'object' && data !== null ? /** @type {Record<string, unknown>} */ (data) : {}
    const message = typeof fields.message === 'string' ? fields.message : `The server answered HTTP ${res.status}.`
    const code = typeof fields.code === 'string' ? fields.code : `HTTP_${res.status}`
    if (res.status === 401) onUnauthorized()
    throw new ApiError(res.status, code, message, data)
  }
  return data
}

/**
 * `?a=1&b=2` from the parameters that have a value ('' and null count as none), or ''.
 * @param {Record<string, string | number | null | undefined>} params
 */
export function query (params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/**
 * A field of an error body, e.g. the `run_id` of a sync refused because another one runs.
 * @param {ApiError} err
 * @param {string} name
 * @returns {unknown}
 */
export function errorField (err, name) {
  return typeof err.body === 'object' && err.body !== null ? /** @type {Record<string, unknown>} */ (err.body)[name] : undefined
}
