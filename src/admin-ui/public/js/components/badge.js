// @ts-check
/* Status badges: one colour per meaning, whatever the API calls the status. */
import { h } from '../dom.js'

/** @type {Record<string, string>} */
const STATUS_CLASS = {
  ok: 'ok',
  bad: 'bad',
  info: 'info',
  healthy: 'ok',
  completed: 'ok',
  applied: 'ok',
  add: 'ok',
  degraded: 'warn',
  running: 'info',
  pending: 'info',
  planning: 'info',
  dry_run: 'info',
  skipped: 'muted',
  unknown: 'muted',
  unhealthy: 'bad',
  failed: 'bad',
  blocked: 'bad',
  remove: 'bad',
  kick: 'bad'
}
/** @type {Record<string, string>} */
const STATUS_TEXT = { dry_run: 'planned', add: 'add', remove: 'remove', nick: 'nickname', kick: 'kick' }

/**
 * @param {string} status a status from the API, or ok/bad/info
 * @param {string} [text] shown instead of the status
 */
export function badge (status, text) {
  return h('span', { class: `badge ${STATUS_CLASS[status] ?? 'muted'}` }, text ?? STATUS_TEXT[status] ?? status)
}
