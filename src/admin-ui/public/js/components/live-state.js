// @ts-check
/*
 * The overview's "Live events and queue" panel (issue 17): whether this server holds the Discord
 * Gateway (joins and hand edits acted on within seconds) and how its connections fare, from
 * GET /status; and the job queue's figures when the deployment reports them there (a `queue`
 * object of counts), shown as they come.
 */
import { api } from '../api.js'
import { h } from '../dom.js'
import { badge } from './badge.js'
import { errorBox } from './errors.js'

/**
 * GET /status as this panel reads it (an admin's answer).
 * @typedef {object} LiveStatus
 * @property {{ leader: boolean, connections: number, connected: number, resumes: number }} [gateway]
 * @property {Record<string, unknown>} [queue]
 */

/**
 * A label for a queue figure's key: `waiting_jobs` → "Waiting jobs".
 * @param {string} key
 */
function label (key) {
  const words = key.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/**
 * What the Gateway state means for the officer reading it.
 * @param {LiveStatus['gateway']} g
 */
function gatewayText (g) {
  if (g === undefined) return [badge('unknown', 'off'), ' Roles follow on the scheduled syncs only: the live Gateway is off.']
  if (!g.leader) return [badge('info', 'standby'), ' Another server instance holds the Gateway; this one takes over if it stops.']
  const all = g.connected === g.connections
  return [badge(all ? 'ok' : 'degraded', all ? 'connected' : 'reconnecting'),
    ` ${g.connected} of ${g.connections} bot connection(s) up; ${g.resumes} resume${g.resumes === 1 ? '' : 's'} after drops. Joins and hand edits are acted on within seconds.`]
}

/** The panel; it fills itself once GET /status answers. */
export function liveStatePanel () {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Reading…'))
  const section = h('section', { class: 'panel', 'aria-labelledby': 'ov-live' }, h('h2', { id: 'ov-live' }, 'Live events and queue'), body)
  api('GET', 'status').then((raw) => {
    const s = /** @type {LiveStatus} */ (raw)
    body.textContent = ''
    body.append(h('p', {}, h('strong', {}, 'Gateway: '), gatewayText(s.gateway)))
    const q = s.queue
    if (q !== undefined && q !== null && typeof q === 'object') {
      const rows = Object.entries(q).filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
      body.append(h('h3', {}, 'Job queue'), h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', {}, label(k)), h('dd', {}, String(v))])))
    }
  }).catch((err) => {
    body.textContent = ''
    body.append(errorBox(err))
  })
  return section
}
