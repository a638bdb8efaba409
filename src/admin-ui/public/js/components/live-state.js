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
 * @property {{ backend: 'local' | 'bullmq', role: 'all' | 'api' | 'worker', queue: null | { waiting: number, active: number, delayed: number, failed: number, oldest_waiting_ms: number | null } }} [jobs]
 */

/** @type {Record<string, string>} */
const ROLE_TEXT = { all: 'serves the API and runs jobs', api: 'serves the API and only enqueues jobs', worker: 'runs jobs' }

/**
 * The job backend in words, then the shared queue's figures when there is one.
 * @param {NonNullable<LiveStatus['jobs']>} j
 */
function jobsBlock (j) {
  if (j.backend === 'local') return [h('p', {}, h('strong', {}, 'Jobs: '), 'run by this server on its own schedule (one machine).')]
  const intro = h('p', {}, h('strong', {}, 'Jobs: '), `shared BullMQ queue; this server ${ROLE_TEXT[j.role] ?? j.role}.`)
  const q = j.queue
  if (q === null) return [intro, h('p', { class: 'muted' }, 'Queue figures unavailable: Redis did not answer in time.')]
  const age = q.oldest_waiting_ms === null ? 'none waiting' : `${Math.round(q.oldest_waiting_ms / 1000)} s`
  const rows = [['Waiting', String(q.waiting)], ['Running', String(q.active)], ['Retrying later', String(q.delayed)], ['Failed', String(q.failed)], ['Oldest waiting', age]]
  return [intro, h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))]
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
    if (s.jobs !== undefined) body.append(...jobsBlock(s.jobs))
  }).catch((err) => {
    body.textContent = ''
    body.append(errorBox(err))
  })
  return section
}
