// @ts-check
/*
 * A guild's activity in pictures: the last 30 days of runs (changes applied, held by the safety
 * brake, failed; mean duration) and Discord requests and 429s per minute over the last hour.
 * Drawn with uPlot, loaded on demand from the plugin (admin/vendor/, served from the npm package):
 * no build step, no CDN. Each chart has its figures in words beside it, for screen readers and
 * for a reader who wants the number rather than the shape.
 */
import { api } from '../api.js'
import { append, h } from '../dom.js'
import { errorBox } from './errors.js'

/**
 * @typedef {{ day: string, runs: number, applied: number, planned: number, held: number, failed: number, max_duration_ms: number | null, mean_duration_ms: number | null }} ActivityDay
 * @typedef {{ minute: string, requests: number, rate_limited: number }} ActivityMinute
 * @typedef {{ days: ActivityDay[], runs_read: number, truncated: boolean, requests: ActivityMinute[] }} GuildActivity
 */

// This module is admin/js/components/: the vendor files are at admin/vendor/.
const VENDOR = new URL('../../vendor/', import.meta.url)

/** @type {Promise<any> | null} */
let uplot = null

/** uPlot's module (and its stylesheet), loaded once. */
function loadUplot () {
  if (uplot === null) {
    document.head.append(h('link', { rel: 'stylesheet', href: new URL('uPlot.min.css', VENDOR).href }))
    uplot = import(new URL('uPlot.esm.js', VENDOR).href).then((m) => m.default)
  }
  return uplot
}

/**
 * @param {number} n
 * @param {string} one
 */
const count = (n, one) => `${n.toLocaleString()} ${one}${n === 1 ? '' : 's'}`

/**
 * The activity section of a guild page; fills itself in when the data arrives.
 * @param {string} guildId
 */
export function activitySection (guildId) {
  const body = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading activity…'))
  const section = h('section', { class: 'panel', 'aria-labelledby': 'gact' }, h('h2', { id: 'gact' }, 'Activity'), body)
  draw(guildId, body).catch((err) => { body.textContent = ''; body.append(errorBox(err)) })
  return section
}

/**
 * @param {string} guildId
 * @param {HTMLElement} body
 */
async function draw (guildId, body) {
  const activity = /** @type {Promise<GuildActivity>} */ (api('GET', `guilds/${guildId}/activity`))
  const [data, UPlot] = await Promise.all([activity, loadUplot()])
  const sum = (/** @type {(d: ActivityDay) => number} */ f) => data.days.reduce((n, d) => n + f(d), 0)
  const runs = sum((d) => d.runs)
  const requests = data.requests.reduce((n, m) => n + m.requests, 0)
  const limited = data.requests.reduce((n, m) => n + m.rate_limited, 0)
  body.textContent = ''
  const runsText = `Last 30 days: ${count(runs, 'run')}; ${count(sum((d) => d.applied), 'role change')} applied, ` +
    `${sum((d) => d.held).toLocaleString()} held by the safety brake (not written), ${sum((d) => d.planned).toLocaleString()} planned by dry runs (not written), ` +
    `${count(sum((d) => d.failed), 'member')} failed.${data.truncated ? ' Older days are incomplete: only the newest runs were read.' : ''}`
  const requestsText = `Last hour, this server: ${count(requests, 'Discord request')}, ${limited.toLocaleString()} answered 429 (rate limited).`
  const runsBox = h('div', { class: 'chart' })
  const reqBox = h('div', { class: 'chart' })
  append(body, [
    h('figure', {}, h('figcaption', {}, runsText), h('div', { role: 'img', 'aria-label': runsText }, runsBox)),
    h('figure', {}, h('figcaption', {}, requestsText), h('div', { role: 'img', 'aria-label': requestsText }, reqBox))
  ])
  const width = Math.max(280, Math.min(body.clientWidth || 600, 1100))
  const days = data.days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000)
  const css = window.getComputedStyle(document.documentElement)
  const color = (/** @type {string} */ v, /** @type {string} */ fallback) => css.getPropertyValue(v).trim() || fallback
  const bars = UPlot.paths.bars({ size: [0.6, 40] })
  const charts = []
  charts.push(new UPlot({
    width,
    height: 220,
    scales: { x: { time: true }, s: { auto: true } },
    axes: [{}, { label: 'changes' }, { scale: 's', side: 1, label: 'mean s', grid: { show: false } }],
    series: [
      { label: 'Day' },
      { label: 'Applied', stroke: color('--ok', '#1a7f37'), fill: 'rgba(26,127,55,0.25)', paths: bars },
      { label: 'Held', stroke: color('--warn', '#9a6700'), fill: 'rgba(154,103,0,0.25)', paths: bars },
      { label: 'Failed', stroke: color('--bad', '#c0252d'), fill: 'rgba(192,37,45,0.25)', paths: bars },
      { label: 'Mean duration (s)', scale: 's', stroke: color('--info', '#0b5cad'), width: 2, spanGaps: true }
    ]
  }, [days, data.days.map((d) => d.applied), data.days.map((d) => d.held), data.days.map((d) => d.failed), data.days.map((d) => d.mean_duration_ms === null ? null : d.mean_duration_ms / 1000)], runsBox))
  charts.push(new UPlot({
    width,
    height: 180,
    scales: { x: { time: true } },
    axes: [{}, { label: 'per minute' }],
    series: [
      { label: 'Minute' },
      { label: 'Requests', stroke: color('--accent', '#4752c4'), width: 2 },
      { label: '429s', stroke: color('--bad', '#c0252d'), width: 2, fill: 'rgba(192,37,45,0.2)' }
    ]
  }, [data.requests.map((m) => Date.parse(m.minute) / 1000), data.requests.map((m) => m.requests), data.requests.map((m) => m.rate_limited)], reqBox))
  return charts
}
