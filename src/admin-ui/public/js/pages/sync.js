// @ts-check
/*
 * Manual syncs: choose what to sync, dry-run or apply, follow the run live, review its changes,
 * and force a run the safety brake held back (after a confirmation).
 */
import { api, ApiError, errorField } from '../api.js'
import { action, run } from '../components/action.js'
import { changesView } from '../components/audit-table.js'
import { confirmDialog } from '../components/dialog.js'
import { errorBox } from '../components/errors.js'
import { field, list, radioValue } from '../components/forms.js'
import { progressView } from '../components/progress.js'
import { runSummary } from '../components/run-summary.js'
import { runsTable } from '../components/runs-table.js'
import { h, uid } from '../dom.js'
import { guildName, loadGuilds } from '../guilds.js'
import { alive, currentView, POLL_MS } from '../state.js'

/**
 * @typedef {import('../types.js').SyncRequest} SyncRequest
 * @typedef {import('../types.js').SyncRun} SyncRun
 */

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params `guild_id` preselects a guild
 */
export async function syncPage (main, params) {
  const myView = currentView()
  main.append(h('h1', { tabindex: '-1' }, 'Sync'))
  const guilds = await loadGuilds()
  const presetGuild = params.get('guild_id') ?? ''
  const scopeName = uid('scope')
  /**
   * @param {string} value
   * @param {string} label
   * @param {boolean} checked
   */
  const radio = (value, label, checked) => {
    const id = uid('r')
    return h('div', { class: 'check' }, h('input', { type: 'radio', name: 'scope', id, value, checked }), h('label', { for: id }, label))
  }
  const guildSelect = h('select', { name: 'guild_id' }, h('option', { value: '' }, 'Choose a guild…'),
    guilds.map((g) => h('option', { value: g.guild_id, selected: g.guild_id === presetGuild, disabled: !g.enabled }, `${g.guild_name}${g.enabled ? '' : ' (disabled)'}`)))
  const users = h('input', { name: 'user_ids', placeholder: 'user-1, user-2', autocomplete: 'off' })
  const form = h('form', { 'aria-labelledby': scopeName },
    h('fieldset', {}, h('legend', { id: scopeName }, 'What to sync'),
      radio('full', 'Every enabled guild (full sync)', presetGuild === ''),
      radio('guild', 'One guild', presetGuild !== ''),
      radio('users', 'Some users (every enabled guild, or the chosen guild)', false)),
    h('div', { class: 'grid' },
      field('Guild', guildSelect, 'For "One guild"; optional for "Some users".'),
      field('Host user ids', users, 'Comma-separated, for "Some users".')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', value: 'dry', class: 'secondary' }, 'Dry run'),
      h('button', { type: 'submit', value: 'apply' }, 'Sync now')))
  const result = h('div', { id: 'sync-result' })
  const runsBox = h('section', { class: 'panel', 'aria-labelledby': 'sr' })
  main.append(h('section', { class: 'panel' }, h('p', { class: 'muted small' }, 'A dry run plans every change and writes nothing; review the table, then apply. A sync that would change more roles than the guild\'s limit is held back by the safety brake until you force it.'), form), result, runsBox)

  /** @returns {SyncRequest} */
  const selection = () => {
    const scope = radioValue(form, 'scope')
    /** @type {SyncRequest} */
    const body = {}
    if (scope === 'guild') {
      if (guildSelect.value === '') throw new ApiError(400, 'FST_DISCORD_VALIDATION', 'Choose the guild to sync.')
      body.guild_id = guildSelect.value
    } else if (scope === 'users') {
      const ids = list(users.value)
      if (ids.length === 0) throw new ApiError(400, 'FST_DISCORD_VALIDATION', 'Enter at least one host user id.')
      body.user_ids = ids
      if (guildSelect.value !== '') body.guild_id = guildSelect.value
    }
    return body
  }

  const showRuns = async () => {
    const { runs } = /** @type {import('../types.js').RunList} */ (await api('GET', 'sync/runs?limit=10'))
    if (!alive(myView)) return
    runsBox.textContent = ''
    runsBox.append(h('h2', { id: 'sr' }, 'Recent runs'), runsTable(runs))
  }

  /**
   * @param {SyncRequest} body
   * @param {HTMLButtonElement | null | undefined} button
   */
  const start = async (body, button) => {
    await run(button, result, async () => {
      let answer
      try {
        answer = /** @type {import('../types.js').ManualSyncAnswer} */ (await api('POST', 'sync/manual', body))
      } catch (err) {
        // Someone else's run holds the guild: follow it instead of failing.
        const runId = err instanceof ApiError && err.code === 'FST_DISCORD_SYNC_IN_PROGRESS' ? errorField(err, 'run_id') : undefined
        if (err instanceof ApiError && typeof runId === 'string' && runId !== '') {
          result.append(h('p', { class: 'warning' }, `${err.message} Following that run.`))
          await follow(runId, body)
          return
        }
        throw err
      }
      if (body.dry_run) await showFinished(answer.run, body)
      else await follow(answer.run_id, body)
    })
    await showRuns().catch(() => {})
  }

  /**
   * Polls the run until it ends, then shows its result.
   * @param {string} runId
   * @param {SyncRequest} body
   */
  const follow = async (runId, body) => {
    const box = h('section', { class: 'panel', 'aria-labelledby': 'sp' }, h('h2', { id: 'sp' }, 'Sync in progress'))
    const live = h('div', { role: 'status', 'aria-live': 'polite' })
    box.append(live)
    result.append(box)
    for (;;) {
      const r = /** @type {SyncRun} */ (await api('GET', `sync/runs/${runId}`))
      if (!alive(myView)) return
      live.textContent = ''
      live.append(progressView(r))
      if (['completed', 'failed', 'blocked'].includes(r.status)) {
        box.remove()
        await showFinished(r, body)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }

  /**
   * @param {SyncRun} r
   * @param {SyncRequest} body what was asked, to apply or force the same selection
   */
  const showFinished = async (r, body) => {
    const box = h('section', { class: 'panel', 'aria-labelledby': `res-${r.id}` })
    const blocked = r.results.guilds.filter((g) => g.status === 'blocked')
    const title = r.dry_run ? 'Dry run: planned changes' : r.status === 'blocked' ? 'Sync blocked' : `Sync ${r.status}`
    const heading = h('h2', { id: `res-${r.id}`, tabindex: '-1' }, title)
    box.append(heading)
    if (blocked.length > 0) {
      const forceOut = h('div')
      const force = h('button', { type: 'button', class: 'danger' }, 'Force sync…')
      const planned = blocked.reduce((n, g) => n + g.planned_changes, 0)
      action(force, forceOut, async () => {
        const ok = await confirmDialog({
          title: 'Apply the changes anyway?',
          body: `${planned} role change(s) exceed the safety limit of ${blocked.map((g) => guildName(g.guild_id)).join(', ')}. Review them in a dry run first: forcing applies every one of them in Discord.`,
          confirmLabel: `Force: apply ${planned} change(s)`,
          danger: true,
          acknowledge: 'I reviewed the planned changes and want them applied'
        })
        if (!ok) return
        await start({ ...body, dry_run: false, force: true, wait: false }, force)
      })
      box.append(h('div', { class: 'blocked', role: 'alert' },
        h('h3', {}, 'Held back by the safety brake'),
        blocked.map((g) => h('p', {}, `${guildName(g.guild_id)}: ${g.reason ?? 'too many planned changes'}`)),
        h('p', {}, 'Forcing applies every change listed below in Discord.'),
        h('div', { class: 'actions' }, force), forceOut))
    }
    box.append(runSummary(r))
    // A dry run is never blocked, but it says when the real run would be.
    const overLimit = r.dry_run ? r.results.guilds.filter((g) => g.reason !== null && /max_role_changes_per_sync/.test(g.reason)) : []
    for (const g of overLimit) box.append(h('p', { class: 'warning' }, `${guildName(g.guild_id)}: ${g.reason}`))
    box.append(await changesView(r.id, r.dry_run ? 'Planned changes' : blocked.length > 0 ? 'Changes held back' : 'Changes'))
    if (r.dry_run) {
      const applyOut = h('div')
      const apply = h('button', { type: 'button' }, 'Apply these changes')
      apply.addEventListener('click', () => start({ ...body, dry_run: false, wait: false }, apply))
      box.append(h('div', { class: 'actions' }, apply), applyOut)
    }
    result.textContent = ''
    result.append(box)
    // The result is what the admin waits for: bring it to the top of the view and move focus to it.
    box.scrollIntoView({ block: 'start' })
    heading.focus({ preventScroll: true })
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const submitter = ev.submitter instanceof HTMLButtonElement ? ev.submitter : null
    const dry = submitter?.value === 'dry'
    let body
    try {
      body = selection()
    } catch (err) {
      result.textContent = ''
      result.append(errorBox(err))
      return
    }
    start({ ...body, dry_run: dry, wait: dry }, submitter)
  })
  await showRuns()
}
