/* global document, location, history, fetch, sessionStorage, Blob, URL, URLSearchParams, Node, setTimeout, clearTimeout, window */
/*
 * fastify-discord-sync admin UI: one ES module, no framework, no build step.
 *
 * Every action is a call to the plugin's JSON API with the session cookie (same origin). Writes
 * carry the X-Requested-With header, which the API requires for cookie-authenticated writes: a
 * cross-site form cannot send it. Text from the API is always inserted as text (textContent),
 * never as HTML, so a guild or role name cannot inject markup.
 */

/** The plugin's routes live one level above the UI: /api/discord/admin/ → /api/discord/. */
const API = new URL('../', location.href)
/** Where sign-in sends the browser back to: the UI itself, without hash or query. */
const UI_URL = location.origin + location.pathname
const RETURN_KEY = 'discord-sync-admin:return'
/** How often a running sync is polled: live enough to watch, far below the API's default 120 requests a minute. */
const POLL_MS = 1500

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor (status, code, message, body) {
    super(message)
    this.status = status
    this.code = code
    this.body = body
  }
}

async function api (method, path, body) {
  const headers = { accept: 'application/json', 'x-requested-with': 'fastify-discord-sync-admin' }
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
  let data = null
  if (text !== '') {
    try { data = JSON.parse(text) } catch { data = null }
  }
  if (!res.ok) {
    // The API's errors carry a readable message and a stable code; show those, never a raw body.
    const message = data !== null && typeof data.message === 'string' ? data.message : `The server answered HTTP ${res.status}.`
    const code = data !== null && typeof data.code === 'string' ? data.code : `HTTP_${res.status}`
    if (res.status === 401 && state.session?.authenticated) {
      state.session = null
      setTimeout(() => { boot() }, 0)
    }
    throw new ApiError(res.status, code, message, data)
  }
  return data
}

function query (params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

// ------------------------------------------------------------------ DOM helpers

/**
 * h('button', { class: 'x', onclick }, 'text', child): builds an element; strings become text nodes,
 * null/false are skipped and arrays are flattened. Use append() (not the DOM's) for such lists.
 */
function h (tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else if (k === 'value') el.value = v
    else if (k === 'checked' || k === 'selected' || k === 'disabled') { el[k] = true; el.setAttribute(k, '') } else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append (el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : String(c))
  }
  return el
}

let idSeq = 0
const uid = (p) => `${p}-${++idSeq}`

/** A labelled input: <div class="field"><label for>…</label><input id aria-describedby>…<div class="hint"></div></div>. */
function field (label, input, hint) {
  const id = input.id || uid('f')
  input.id = id
  const parts = [h('label', { for: id }, label), input]
  if (hint) {
    const hid = `${id}-hint`
    input.setAttribute('aria-describedby', hid)
    parts.push(h('div', { class: 'hint', id: hid }, hint))
  }
  return h('div', { class: 'field' }, parts)
}

function checkbox (label, name, checked, hint) {
  const id = uid('c')
  const input = h('input', { type: 'checkbox', id, name, checked })
  const parts = [input, h('label', { for: id }, label)]
  if (hint) {
    input.setAttribute('aria-describedby', `${id}-hint`)
    parts.push(h('span', { class: 'hint', id: `${id}-hint` }, hint))
  }
  return h('div', { class: 'check' }, parts)
}

function table (columns, rows, { caption, empty = 'Nothing to show.', rowClass } = {}) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty)
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: rowClass ? rowClass(r) : null }, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r))))))
  ))
}

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
  remove: 'bad'
}
const STATUS_TEXT = { dry_run: 'planned', add: 'add', remove: 'remove' }

function badge (status, text) {
  return h('span', { class: `badge ${STATUS_CLASS[status] ?? 'muted'}` }, text ?? STATUS_TEXT[status] ?? status)
}

function when (iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  return h('time', { datetime: iso, title: iso }, d.toLocaleString())
}

function errorBox (err) {
  const message = err instanceof ApiError ? err.message : 'Something went wrong in this page. Reload it and try again.'
  if (!(err instanceof ApiError)) console.error(err)
  return h('div', { class: 'error', role: 'alert' }, message, err instanceof ApiError && err.code ? h('span', { class: 'code' }, `(${err.code})`) : null)
}

function notify (message) {
  const el = document.getElementById('notice')
  el.textContent = ''
  // Cleared first so screen readers announce a repeated message again.
  setTimeout(() => { el.textContent = message }, 30)
  clearTimeout(notify.timer)
  notify.timer = setTimeout(() => { el.textContent = '' }, 8000)
}

/** Runs an async action from a button: disables it meanwhile, shows API errors beside it. */
function action (button, out, fn) {
  button.addEventListener('click', async (ev) => {
    ev.preventDefault()
    await run(button, out, fn)
  })
  return button
}

async function run (button, out, fn) {
  if (button) button.disabled = true
  if (out) out.textContent = ''
  try {
    await fn()
  } catch (err) {
    if (out) out.append(errorBox(err))
    else showError(err)
  } finally {
    if (button) button.disabled = false
  }
}

function showError (err) {
  document.getElementById('main').prepend(errorBox(err))
}

/** A modal confirmation (native <dialog>: focus trap, Escape cancels). Resolves true on confirm. */
function confirmDialog ({ title, body, confirmLabel, danger = false, acknowledge }) {
  return new Promise((resolve) => {
    const titleId = uid('dlg')
    const ack = acknowledge ? checkbox(acknowledge, 'ack', false) : null
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : null, value: 'ok', disabled: ack !== null }, confirmLabel)
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel')
    const dialog = h('dialog', { 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        append(h('div', {}), [body]),
        ack,
        h('div', { class: 'actions' }, cancel, ok)))
    if (ack !== null) ack.querySelector('input').addEventListener('change', (e) => { ok.disabled = !e.target.checked })
    cancel.addEventListener('click', () => dialog.close('cancel'))
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'ok') })
    document.body.append(dialog)
    dialog.showModal()
    cancel.focus()
  })
}

function download (filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
  const a = h('a', { href: url, download: filename, class: 'button secondary' }, `Download ${filename}`)
  setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000)
  return a
}

// ------------------------------------------------------------------ state and routing

const state = { session: null, guilds: null, flash: null }

/**
 * When a sign-in or re-link fails at Discord (cancelled, code refused, Discord down), the callback
 * sends the browser back here with ?error=<FST_DISCORD_ code>. Only a code is accepted from the
 * URL (a crafted link cannot put its own words on the page); the text shown is ours.
 */
const CALLBACK_ERRORS = {
  FST_DISCORD_OAUTH_DENIED: 'Discord authorisation was cancelled or refused: nothing changed.',
  FST_DISCORD_OAUTH_INVALID_GRANT: 'Discord did not accept the authorisation (it may have been used already): try again.',
  FST_DISCORD_OAUTH_STATE_EXPIRED: 'The authorisation took too long and expired: try again.',
  FST_DISCORD_OAUTH_STATE_USED: 'This authorisation was already used: start again.',
  FST_DISCORD_OAUTH_BROWSER_MISMATCH: 'This authorisation was started in another browser or tab, or this browser did not keep its cookie: start again here.',
  FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE: 'This Discord account is already linked to another user.',
  FST_DISCORD_UPSTREAM: 'Discord could not be reached: try again in a moment.'
}

/** Takes ?error= off the address (so a reload does not show it again) and keeps it for the next page. */
function takeCallbackError () {
  const params = new URLSearchParams(location.search)
  const code = params.get('error')
  if (code === null) return
  params.delete('error')
  const rest = params.toString()
  history.replaceState(null, '', `${location.pathname}${rest === '' ? '' : `?${rest}`}${location.hash}`)
  if (!/^FST_DISCORD_[A-Z0-9_]{1,64}$/.test(code)) return
  state.flash = new ApiError(0, code, CALLBACK_ERRORS[code] ?? 'Signing in with Discord did not complete.')
}
let view = 0

function currentRoute () {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/'
  const [path, qs] = hash.split('?', 2)
  return { path, params: new URLSearchParams(qs ?? '') }
}

function go (hash) {
  if (location.hash === hash) render()
  else location.hash = hash
}

const ADMIN_NAV = [['#/', 'Overview'], ['#/guilds', 'Guilds'], ['#/sync', 'Sync'], ['#/audit', 'Audit'], ['#/account', 'My account']]
const USER_NAV = [['#/account', 'My account']]

function renderChrome () {
  const nav = document.getElementById('nav')
  const who = document.getElementById('who')
  nav.textContent = ''
  who.textContent = ''
  const s = state.session
  if (!s?.authenticated) return
  const { path } = currentRoute()
  for (const [href, label] of s.is_admin ? ADMIN_NAV : USER_NAV) {
    const target = href.slice(1)
    const current = target === '/' ? path === '/' : path === target || path.startsWith(`${target}/`)
    nav.append(h('a', { href, 'aria-current': current ? 'page' : null }, label))
  }
  const signOut = h('button', { type: 'button' }, 'Sign out')
  action(signOut, null, async () => {
    await api('DELETE', 'session')
    state.session = null
    location.hash = '#/'
    await boot()
  })
  append(who, [h('span', {}, 'Signed in as ', h('strong', {}, s.user_id)), s.is_admin ? badge('info', 'admin') : null, signOut])
}

const ROUTES = [
  [/^\/$/, (m, p) => state.session.is_admin ? overviewPage(m, p) : accountPage(m, p)],
  [/^\/account$/, (m, p) => accountPage(m, p)],
  [/^\/guilds$/, (m, p) => requireAdmin(guildsPage)(m, p)],
  [/^\/guilds\/(\d{17,20})$/, (m, p, id) => requireAdmin(guildPage)(m, p, id)],
  [/^\/sync$/, (m, p) => requireAdmin(syncPage)(m, p)],
  [/^\/audit$/, (m, p) => requireAdmin(auditPage)(m, p)]
]

function requireAdmin (page) {
  return (main, params, ...rest) => {
    if (state.session.is_admin) return page(main, params, ...rest)
    main.append(h('h1', { tabindex: '-1' }, 'Admins only'), h('p', {}, 'This page needs the admin permission. ', h('a', { href: '#/account' }, 'Go to your account.')))
  }
}

async function render () {
  const myView = ++view
  const main = document.getElementById('main')
  main.textContent = ''
  renderChrome()
  // Shown once, above whatever page the browser came back to.
  const flash = state.flash
  state.flash = null
  if (!state.session?.authenticated) {
    signInPage(main)
    if (flash !== null) main.querySelector('h1')?.after(errorBox(flash))
    return
  }
  const { path, params } = currentRoute()
  const route = ROUTES.find(([re]) => re.test(path))
  try {
    if (route === undefined) {
      main.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the start page')))
    } else {
      await route[1](main, params, ...(route[0].exec(path) ?? []).slice(1))
    }
  } catch (err) {
    if (myView === view) main.append(errorBox(err))
  }
  if (myView !== view) return
  if (flash !== null) main.querySelector('h1')?.after(errorBox(flash))
  main.querySelector('h1')?.focus()
}

/** True while the page that started a poll is still on screen. */
function alive (myView) {
  return myView === view
}

// ------------------------------------------------------------------ sign in

function signInPage (main) {
  const s = state.session
  const out = h('div')
  const button = h('button', { type: 'button' }, 'Sign in with Discord')
  action(button, out, async () => {
    const { auth_url: authUrl } = await api('GET', `auth/login${query({ redirect_url: UI_URL })}`)
    location.assign(authUrl)
  })
  if (s !== null && (!s.discord_configured || !s.auth_configured)) button.disabled = true
  main.append(h('div', { class: 'signin panel' },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', {}, 'Sign in with your Discord account. Admins manage guilds, role mappings and syncs; everyone can see their own Discord link, re-link, unlink and sync their roles.'),
    s?.session_expired ? h('p', { class: 'warning' }, 'Your session has expired. Sign in again.') : null,
    s !== null && !s.auth_configured ? h('p', { class: 'error', role: 'alert' }, 'Sessions are not configured on this server (no JWT secret): nobody can sign in.') : null,
    s !== null && !s.discord_configured ? h('p', { class: 'error', role: 'alert' }, 'No Discord application is configured on this server: set the Discord client id, secret and redirect URI.') : null,
    button, out))
}

// ------------------------------------------------------------------ overview (admin)

async function overviewPage (main) {
  const myView = view
  main.append(h('h1', { tabindex: '-1' }, 'Overview'))
  const statusBox = h('section', { class: 'panel', 'aria-labelledby': 'ov-sync' })
  const healthBox = h('section', { class: 'panel', 'aria-labelledby': 'ov-health' })
  main.append(statusBox, healthBox)

  const refresh = async () => {
    const [status, guilds] = await Promise.all([api('GET', 'sync/status'), api('GET', 'guilds')])
    if (!alive(myView)) return
    statusBox.textContent = ''
    append(statusBox, [
      h('h2', { id: 'ov-sync' }, 'Sync status'),
      h('dl', { class: 'stats' },
        stat('Last full sync', status.last_full_sync ? when(status.last_full_sync) : 'never'),
        stat('Sync in progress', status.sync_in_progress ? 'yes' : 'no'),
        stat('Linked accounts', status.total_users),
        stat('Members in sync', status.synced_users),
        stat('Members failing', status.failed_users),
        stat('Enabled guilds', status.total_guilds),
        stat('Active role mappings', status.active_role_mappings)),
      status.current_runs.length > 0 ? h('h3', {}, 'Running now') : null,
      status.current_runs.map((r) => progressView(r)),
      h('h3', {}, 'Recent errors'),
      table([
        { label: 'When', value: (e) => when(e.occurred_at) },
        { label: 'Guild', value: (e) => e.guild_id ?? '—' },
        { label: 'User', value: (e) => e.user_id ?? e.discord_user_id ?? '—' },
        { label: 'Error', value: (e) => e.error },
        { label: 'Code', value: (e) => e.code ?? '—' },
        { label: 'Run', value: (e) => h('a', { href: `#/audit?run_id=${encodeURIComponent(e.run_id)}` }, e.run_id) }
      ], status.recent_errors, { empty: 'No recent errors.' })])
    healthBox.textContent = ''
    healthBox.append(h('h2', { id: 'ov-health' }, 'Guild health'), guildTable(guilds.guilds))
    // Two calls per refresh: every other poll interval keeps well inside the API's per-user rate limit.
    if (status.sync_in_progress) setTimeout(() => { if (alive(myView)) refresh().catch((err) => { if (alive(myView)) statusBox.append(errorBox(err)) }) }, POLL_MS * 2)
  }
  await refresh()
}

function stat (label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value))
}

function guildTable (guilds) {
  return table([
    { label: 'Guild', value: (g) => h('a', { href: `#/guilds/${g.guild_id}` }, g.guild_name) },
    { label: 'Id', value: (g) => h('span', { class: 'mono' }, g.guild_id) },
    { label: 'Enabled', value: (g) => g.enabled ? 'yes' : 'no' },
    { label: 'Health', value: (g) => badge(g.health_status) },
    { label: 'Last check', value: (g) => when(g.last_health_check) },
    { label: 'Last error', value: (g) => g.last_error ?? '—' },
    { label: 'Bot token', value: (g) => g.has_bot_token ? 'set' : 'missing' }
  ], guilds, { empty: 'No guild is configured yet.' })
}

// ------------------------------------------------------------------ guilds (admin)

async function loadGuilds () {
  state.guilds = (await api('GET', 'guilds')).guilds
  return state.guilds
}

async function guildsPage (main) {
  main.append(h('h1', { tabindex: '-1' }, 'Guilds'))
  const guilds = await loadGuilds()
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'g-list' }, h('h2', { id: 'g-list' }, 'Configured guilds'), guildTable(guilds)))

  const out = h('div')
  const form = h('form', { class: 'grid', 'aria-labelledby': 'g-add' },
    field('Guild id', h('input', { name: 'guild_id', required: true, inputmode: 'numeric', pattern: '[0-9]{17,20}', autocomplete: 'off' }), 'Right-click the server in Discord → Copy Server ID (developer mode).'),
    field('Bot token', h('input', { name: 'bot_token', type: 'password', autocomplete: 'off', spellcheck: 'false' }), 'Checked against Discord before it is stored; never shown again.'),
    field('Display name', h('input', { name: 'guild_name', maxlength: '100' }), 'Optional with a bot token (Discord\'s name is used).'),
    h('div', { class: 'field' }, checkbox('Enabled', 'enabled', true)),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Add guild')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    run(form.querySelector('button[type=submit]'), out, async () => {
      const f = form.elements
      const body = { guild_id: f.guild_id.value.trim(), enabled: f.enabled.checked }
      if (f.bot_token.value.trim() !== '') body.bot_token = f.bot_token.value.trim()
      if (f.guild_name.value.trim() !== '') body.guild_name = f.guild_name.value.trim()
      const g = await api('POST', 'guilds', body)
      notify(`Guild "${g.guild_name}" added (health: ${g.health_status}).`)
      go(`#/guilds/${g.guild_id}`)
    })
  })
  main.append(h('section', { class: 'panel' }, h('h2', { id: 'g-add' }, 'Add a guild'), form, out))
}

async function guildPage (main, _params, guildId) {
  const guild = await api('GET', `guilds/${guildId}`)
  main.append(h('h1', { tabindex: '-1' }, guild.guild_name))

  // Health
  const healthOut = h('div')
  const checkNow = h('button', { type: 'button', class: 'secondary' }, 'Check the bot now')
  action(checkNow, healthOut, async () => {
    const g = await api('POST', `guilds/${guildId}/health-check`)
    notify(`Health: ${g.health_status}${g.last_error ? ` — ${g.last_error}` : ''}`)
    render()
  })
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'gh' },
    h('h2', { id: 'gh' }, 'Health'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Guild id'), h('dd', { class: 'mono' }, guild.guild_id),
      h('dt', {}, 'Status'), h('dd', {}, badge(guild.health_status)),
      h('dt', {}, 'Last check'), h('dd', {}, when(guild.last_health_check)),
      h('dt', {}, 'Last error'), h('dd', {}, guild.last_error ?? 'none'),
      h('dt', {}, 'Bot'), h('dd', {}, guild.has_bot_token ? `token set${guild.bot_user_id ? `, bot user ${guild.bot_user_id}` : ''}` : 'no bot token: set one in Settings'),
      h('dt', {}, 'Enabled'), h('dd', {}, guild.enabled ? 'yes' : 'no')),
    h('div', { class: 'actions' }, checkNow, h('a', { class: 'button secondary', href: `#/sync?guild_id=${guildId}` }, 'Sync this guild…'), h('a', { class: 'button secondary', href: `#/audit?guild_id=${guildId}` }, 'Audit trail')),
    healthOut))

  // Roles and mappings
  const rolesSection = h('section', { class: 'panel', 'aria-labelledby': 'gr' }, h('h2', { id: 'gr' }, 'Discord roles'))
  const mappingsSection = h('section', { class: 'panel', 'aria-labelledby': 'gm' })
  main.append(mappingsSection, rolesSection)
  let roles = null
  try {
    roles = await api('GET', `guilds/${guildId}/discord-roles`)
    rolesSection.append(
      h('p', { class: 'muted small' }, `Read from Discord with the bot "${roles.bot_username}". Its highest role is at position ${roles.bot_highest_position}: it can assign roles strictly below that${roles.can_manage_roles ? '' : ', but it lacks the Manage Roles permission'}.`),
      table([
        { label: 'Role', value: (r) => r.name },
        { label: 'Position', num: true, value: (r) => r.position },
        { label: 'Bot can assign', value: (r) => r.assignable ? badge('ok', 'yes') : badge('bad', 'no') },
        { label: 'Why not', value: (r) => r.assignable ? (r.held_by_bot ? 'the bot holds this role' : '—') : r.message }
      ], roles.roles, { rowClass: (r) => r.assignable ? null : 'roles-denied' }))
  } catch (err) {
    rolesSection.append(errorBox(err))
  }
  await renderMappings(mappingsSection, guildId, roles)

  // Import / export
  main.append(transferSection(guildId, () => renderMappings(mappingsSection, guildId, roles)))

  // Settings
  main.append(settingsSection(guild))
}

function conditionsText (c) {
  const parts = []
  if (c.character_count_min !== null || c.character_count_max !== null) parts.push(`characters ${c.character_count_min ?? 0}–${c.character_count_max ?? '∞'}`)
  if (c.required_permissions.length > 0) parts.push(`${c.require_all ? 'all of' : 'any of'}: ${c.required_permissions.join(', ')}`)
  if (c.excluded_groups.length > 0) parts.push(`not in: ${c.excluded_groups.join(', ')}`)
  return parts.length === 0 ? 'none' : parts.join('; ')
}

async function renderMappings (section, guildId, roles) {
  section.textContent = ''
  const { mappings } = await api('GET', `guilds/${guildId}/role-mappings`)
  const roleById = new Map((roles?.roles ?? []).map((r) => [r.id, r]))
  const formHost = h('div')
  const out = h('div')
  const addButton = h('button', { type: 'button' }, 'Add a mapping')
  addButton.addEventListener('click', () => showMappingForm(formHost, guildId, roles, null, () => renderMappings(section, guildId, roles)))
  section.append(
    h('h2', { id: 'gm' }, 'Role mappings'),
    h('p', { class: 'muted small' }, 'Members of a group get the mapped role; linked members who leave the group lose it. Roles that no mapping names are never touched.'),
    table([
      { label: 'Group', value: (m) => [m.group_name ?? m.group_id, m.group_name ? h('div', { class: 'muted small mono' }, m.group_id) : null] },
      { label: 'Discord role', value: (m) => { const r = roleById.get(m.discord_role_id); return [r?.name ?? m.discord_role_name ?? m.discord_role_id, r && !r.assignable ? h('div', { class: 'small' }, badge('bad', 'not assignable')) : null] } },
      { label: 'Priority', num: true, value: (m) => m.priority },
      { label: 'Exclusive set', value: (m) => m.exclusive_set ?? '—' },
      { label: 'Conditions', value: (m) => conditionsText(m.conditions) },
      { label: 'Enabled', value: (m) => m.enabled ? 'yes' : 'no' },
      { label: 'Last sync', value: (m) => when(m.last_sync) },
      {
        label: 'Actions',
        value: (m) => {
          const edit = h('button', { type: 'button', class: 'link', 'aria-label': `Edit mapping ${m.group_id} → ${m.discord_role_name ?? m.discord_role_id}` }, 'Edit')
          edit.addEventListener('click', () => showMappingForm(formHost, guildId, roles, m, () => renderMappings(section, guildId, roles)))
          const del = h('button', { type: 'button', class: 'link', 'aria-label': `Delete mapping ${m.group_id} → ${m.discord_role_name ?? m.discord_role_id}` }, 'Delete')
          action(del, out, async () => {
            const ok = await confirmDialog({ title: 'Delete this mapping?', body: `Group "${m.group_id}" → role "${m.discord_role_name ?? m.discord_role_id}". Roles already given in Discord stay as they are.`, confirmLabel: 'Delete mapping', danger: true })
            if (!ok) return
            await api('DELETE', `role-mappings/${m.id}`)
            notify('Mapping deleted.')
            await renderMappings(section, guildId, roles)
          })
          return [edit, del]
        }
      }
    ], mappings, { empty: 'No role mappings yet: nothing is synced in this guild.' }),
    h('div', { class: 'actions' }, addButton),
    out, formHost)
}

function list (text) {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function showMappingForm (host, guildId, roles, mapping, done) {
  host.textContent = ''
  const editing = mapping !== null
  const c = mapping?.conditions ?? { require_all: false, character_count_min: null, character_count_max: null, required_permissions: [], excluded_groups: [] }
  const out = h('div')
  const roleSelect = h('select', { name: 'discord_role_id', required: true },
    h('option', { value: '' }, 'Choose a role…'),
    (roles?.roles ?? []).filter((r) => r.reason !== 'everyone_role').map((r) => h('option', {
      value: r.id,
      // The current role of an edited mapping stays selectable so the form can be saved unchanged.
      disabled: !r.assignable && r.id !== mapping?.discord_role_id,
      selected: r.id === mapping?.discord_role_id
    }, `${r.name} (position ${r.position})${r.assignable ? '' : ` — cannot assign: ${shortReason(r.reason)}`}`)))
  const roleInput = roles === null
    ? h('input', { name: 'discord_role_id', required: true, inputmode: 'numeric', pattern: '[0-9]{17,20}', value: mapping?.discord_role_id ?? '' })
    : roleSelect
  const titleId = uid('mf')
  const form = h('form', { class: 'grid', 'aria-labelledby': titleId },
    h('h3', { id: titleId, class: 'span' }, editing ? `Edit mapping ${mapping.group_id} → ${mapping.discord_role_name ?? mapping.discord_role_id}` : 'New mapping'),
    field('Group id', h('input', { name: 'group_id', required: true, maxlength: '200', value: mapping?.group_id ?? '' }), 'The host group, as the membership provider names it.'),
    field('Group name', h('input', { name: 'group_name', maxlength: '200', value: mapping?.group_name ?? '' }), 'Optional display name.'),
    field('Discord role', roleInput, roles === null ? 'The roles could not be read from Discord: enter the role id.' : 'Roles the bot cannot assign are disabled; the Discord roles table says why.'),
    field('Priority', h('input', { name: 'priority', type: 'number', min: '1', max: '1000', required: true, value: String(mapping?.priority ?? 1) }), '1 is first; decides the winner inside an exclusive set.'),
    field('Exclusive set', h('input', { name: 'exclusive_set', maxlength: '100', value: mapping?.exclusive_set ?? '' }), 'Optional: mappings in one set grant at most one role per member.'),
    h('div', { class: 'field' }, checkbox('Enabled', 'enabled', mapping?.enabled ?? true)),
    h('fieldset', { class: 'span' }, h('legend', {}, 'Conditions'),
      h('div', { class: 'grid' },
        field('Minimum characters', h('input', { name: 'character_count_min', type: 'number', min: '0', value: c.character_count_min ?? '' }), 'Empty: no minimum.'),
        field('Maximum characters', h('input', { name: 'character_count_max', type: 'number', min: '0', value: c.character_count_max ?? '' }), 'Empty: no maximum.'),
        field('Required permissions', h('input', { name: 'required_permissions', value: c.required_permissions.join(', ') }), 'Comma-separated host permissions; empty: none.'),
        h('div', { class: 'field' }, checkbox('Require all of them (otherwise any one)', 'require_all', c.require_all)),
        field('Excluded groups', h('input', { name: 'excluded_groups', value: c.excluded_groups.join(', ') }), 'Comma-separated: members of these groups never get the role.'))),
    h('div', { class: 'actions span' },
      h('button', { type: 'submit' }, editing ? 'Save mapping' : 'Create mapping'),
      h('button', { type: 'button', class: 'secondary', 'data-cancel': '' }, 'Cancel')))
  form.querySelector('[data-cancel]').addEventListener('click', () => { host.textContent = '' })
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    run(form.querySelector('button[type=submit]'), out, async () => {
      const f = form.elements
      const num = (v) => v.trim() === '' ? null : Number(v)
      const body = {
        group_id: f.group_id.value.trim(),
        group_name: f.group_name.value.trim() === '' ? null : f.group_name.value.trim(),
        discord_role_id: f.discord_role_id.value,
        priority: Number(f.priority.value),
        exclusive_set: f.exclusive_set.value.trim() === '' ? null : f.exclusive_set.value.trim(),
        enabled: f.enabled.checked,
        conditions: {
          require_all: f.require_all.checked,
          character_count_min: num(f.character_count_min.value),
          character_count_max: num(f.character_count_max.value),
          required_permissions: list(f.required_permissions.value),
          excluded_groups: list(f.excluded_groups.value)
        }
      }
      if (editing) await api('PUT', `role-mappings/${mapping.id}`, body)
      else await api('POST', `guilds/${guildId}/role-mappings`, body)
      notify(editing ? 'Mapping saved.' : `Mapping created: ${body.group_id} → ${f.discord_role_id.selectedOptions?.[0]?.textContent ?? body.discord_role_id}.`)
      host.textContent = ''
      await done()
    })
  })
  host.append(h('div', { class: 'panel' }, form, out))
  form.elements.group_id.focus()
}

function shortReason (reason) {
  return {
    managed_role: 'managed by an integration',
    role_not_below_bot: 'not below the bot\'s role',
    missing_manage_roles: 'bot lacks Manage Roles',
    everyone_role: '@everyone',
    role_not_found: 'not found'
  }[reason] ?? reason
}

/** onImported: re-reads the mappings table after an import changed it. */
function transferSection (guildId, onImported) {
  const out = h('div')
  const exportOut = h('div')
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Export mappings')
  action(exportButton, exportOut, async () => {
    const doc = await api('GET', `guilds/${guildId}/role-mappings/export`)
    const text = JSON.stringify(doc, null, 2)
    exportOut.append(h('p', {}, `${doc.mappings.length} mapping(s) exported. `, download(`role-mappings-${guildId}.json`, text)))
    textarea.value = text
  })
  const textarea = h('textarea', { name: 'document', spellcheck: 'false' })
  const file = h('input', { type: 'file', accept: 'application/json,.json' })
  file.addEventListener('change', async () => {
    const f = file.files?.[0]
    if (f) textarea.value = await f.text()
  })
  const mode = h('select', { name: 'mode' }, h('option', { value: 'merge' }, 'merge: create and update, keep the rest'), h('option', { value: 'replace' }, 'replace: also delete mappings not in the document'))
  const send = async (dryRun) => {
    let doc
    try {
      doc = JSON.parse(textarea.value)
    } catch {
      throw new ApiError(400, 'FST_DISCORD_VALIDATION', 'The document is not valid JSON.')
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ApiError(400, 'FST_DISCORD_VALIDATION', 'The document must be a JSON object as produced by Export.')
    const body = { version: doc.version, mappings: doc.mappings, mode: mode.value, dry_run: dryRun }
    if (doc.guild_id !== undefined) body.guild_id = doc.guild_id
    const url = `guilds/${guildId}/role-mappings/import`
    try {
      if (!dryRun && body.mode === 'replace') {
        // Replace deletes every mapping the document leaves out: name them and ask first, as deleting one mapping does.
        // (A document with an invalid entry is refused whole by the import itself: no question then.)
        const preview = await api('POST', url, { ...body, dry_run: true })
        if (preview.invalid.length === 0 && preview.deleted.length > 0) {
          const ok = await confirmDialog({
            title: `Delete ${preview.deleted.length} mapping(s)?`,
            body: `Replace deletes the mappings the document does not list: ${preview.deleted.map((e) => e.group_id).join(', ')}. Roles already given in Discord stay as they are.`,
            confirmLabel: `Import and delete ${preview.deleted.length}`,
            danger: true
          })
          if (!ok) {
            out.append(importReport(preview))
            return
          }
        }
      }
      const report = await api('POST', url, body)
      out.append(importReport(report))
      if (!dryRun) {
        notify('Mappings imported.')
        await onImported()
      }
    } catch (err) {
      if (err instanceof ApiError && err.body?.report) out.append(errorBox(err), importReport(err.body.report))
      else throw err
    }
  }
  const validate = action(h('button', { type: 'button', class: 'secondary' }, 'Validate (dry run)'), out, () => send(true))
  const doImport = action(h('button', { type: 'button' }, 'Import'), out, () => send(false))
  return h('section', { class: 'panel', 'aria-labelledby': 'gt' },
    h('h2', { id: 'gt' }, 'Import / export'),
    h('div', { class: 'actions' }, exportButton), exportOut,
    h('h3', {}, 'Import'),
    field('Mapping document (JSON)', textarea, 'Paste an export, or choose a file. The whole document is checked against Discord first; nothing is written if any entry is invalid.'),
    h('div', { class: 'grid' }, field('Or load a file', file), field('Mode', mode)),
    h('div', { class: 'actions' }, validate, doImport),
    out)
}

function importReport (r) {
  const rows = [
    ...r.created.map((e) => ({ ...e, what: 'create' })),
    ...r.updated.map((e) => ({ ...e, what: 'update' })),
    ...r.deleted.map((e) => ({ ...e, what: 'delete' })),
    ...r.unchanged.map((e) => ({ ...e, what: 'unchanged' })),
    ...r.invalid.map((e) => ({ ...e, what: 'invalid' }))
  ]
  return h('div', { class: r.invalid.length > 0 ? 'warning' : 'success' },
    h('p', {}, `${r.dry_run ? 'Dry run' : r.applied ? 'Applied' : 'Not applied'} (${r.mode}): ${r.created.length} to create, ${r.updated.length} to update, ${r.deleted.length} to delete, ${r.unchanged.length} unchanged, ${r.invalid.length} invalid.`),
    table([
      { label: 'Entry', value: (e) => e.what },
      { label: 'Group', value: (e) => e.group_id },
      { label: 'Role id', value: (e) => h('span', { class: 'mono' }, e.discord_role_id) },
      { label: 'Problem', value: (e) => e.message ?? '—' }
    ], rows, { empty: 'The document has no mappings.' }))
}

function settingsSection (guild) {
  const s = guild.settings
  const out = h('div')
  const form = h('form', { class: 'grid', 'aria-labelledby': 'gs' },
    field('Display name', h('input', { name: 'guild_name', required: true, maxlength: '100', value: guild.guild_name })),
    field('Sync interval', h('input', { name: 'sync_interval', required: true, pattern: '([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+', value: s.sync_interval }), 'Like 15m or 1h30m (1m to 7d).'),
    field('Max role changes per sync', h('input', { name: 'max_role_changes_per_sync', type: 'number', min: '1', max: '10000', required: true, value: String(s.max_role_changes_per_sync) }), 'The safety brake: a sync planning more changes writes nothing unless forced.'),
    field('Audit channel id', h('input', { name: 'audit_channel_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: s.audit_channel_id ?? '' }), 'Optional: the bot posts sync summaries there.'),
    field('Notification channel id', h('input', { name: 'notification_channel_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: s.notification_channel_id ?? '' }), 'Optional: the bot posts health changes there.'),
    field('New bot token', h('input', { name: 'bot_token', type: 'password', autocomplete: 'off', spellcheck: 'false' }), 'Leave empty to keep the current token.'),
    h('fieldset', { class: 'span' }, h('legend', {}, 'Behaviour'),
      checkbox('Enabled', 'enabled', guild.enabled),
      checkbox('Sync automatically on the interval', 'auto_sync', s.auto_sync),
      checkbox('Sync members when they join', 'sync_on_join', s.sync_on_join),
      checkbox('Remove managed roles from members who are not linked', 'remove_roles_on_leave', s.remove_roles_on_leave)),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Save settings')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    run(form.querySelector('button[type=submit]'), out, async () => {
      const f = form.elements
      const body = {
        guild_name: f.guild_name.value.trim(),
        enabled: f.enabled.checked,
        settings: {
          auto_sync: f.auto_sync.checked,
          sync_interval: f.sync_interval.value.trim(),
          sync_on_join: f.sync_on_join.checked,
          remove_roles_on_leave: f.remove_roles_on_leave.checked,
          max_role_changes_per_sync: Number(f.max_role_changes_per_sync.value),
          audit_channel_id: f.audit_channel_id.value.trim() === '' ? null : f.audit_channel_id.value.trim(),
          notification_channel_id: f.notification_channel_id.value.trim() === '' ? null : f.notification_channel_id.value.trim()
        }
      }
      if (f.bot_token.value.trim() !== '') body.bot_token = f.bot_token.value.trim()
      await api('PUT', `guilds/${guild.guild_id}`, body)
      notify('Settings saved.')
      render()
    })
  })
  const del = h('button', { type: 'button', class: 'danger' }, 'Remove this guild…')
  action(del, out, async () => {
    const ok = await confirmDialog({
      title: `Remove "${guild.guild_name}"?`,
      body: 'Its configuration and all its role mappings are deleted and it is no longer synced. Roles already given in Discord stay as they are.',
      confirmLabel: 'Remove guild',
      danger: true
    })
    if (!ok) return
    await api('DELETE', `guilds/${guild.guild_id}`)
    notify(`Guild "${guild.guild_name}" removed.`)
    go('#/guilds')
  })
  return h('section', { class: 'panel', 'aria-labelledby': 'gs' }, h('h2', { id: 'gs' }, 'Settings'), form, h('div', { class: 'actions' }, del), out)
}

// ------------------------------------------------------------------ sync (admin)

async function syncPage (main, params) {
  const myView = view
  main.append(h('h1', { tabindex: '-1' }, 'Sync'))
  const guilds = await loadGuilds()
  const presetGuild = params.get('guild_id') ?? ''
  const scopeName = uid('scope')
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

  const selection = () => {
    const scope = form.elements.scope.value
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
    const { runs } = await api('GET', 'sync/runs?limit=10')
    if (!alive(myView)) return
    runsBox.textContent = ''
    runsBox.append(h('h2', { id: 'sr' }, 'Recent runs'), runsTable(runs))
  }

  const start = async (body, button) => {
    await run(button, result, async () => {
      let answer
      try {
        answer = await api('POST', 'sync/manual', body)
      } catch (err) {
        // Someone else's run holds the guild: follow it instead of failing.
        if (err instanceof ApiError && err.code === 'FST_DISCORD_SYNC_IN_PROGRESS' && err.body?.run_id) {
          result.append(h('p', { class: 'warning' }, `${err.message} Following that run.`))
          await follow(err.body.run_id, body)
          return
        }
        throw err
      }
      if (body.dry_run) await showFinished(answer.run, body)
      else await follow(answer.run_id, body)
    })
    await showRuns().catch(() => {})
  }

  const follow = async (runId, body) => {
    const box = h('section', { class: 'panel', 'aria-labelledby': 'sp' }, h('h2', { id: 'sp' }, 'Sync in progress'))
    const live = h('div', { role: 'status', 'aria-live': 'polite' })
    box.append(live)
    result.append(box)
    for (;;) {
      const r = await api('GET', `sync/runs/${runId}`)
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
    const dry = ev.submitter?.value === 'dry'
    let body
    try {
      body = selection()
    } catch (err) {
      result.textContent = ''
      result.append(errorBox(err))
      return
    }
    start({ ...body, dry_run: dry, wait: dry }, ev.submitter)
  })
  await showRuns()
}

function guildName (guildId) {
  return state.guilds?.find((g) => g.guild_id === guildId)?.guild_name ?? guildId
}

function runTarget (r) {
  if (r.target_id === null) return ' of every enabled guild'
  return ` of ${r.sync_type === 'guild' ? guildName(r.target_id) : r.target_id}`
}

function progressView (r) {
  const p = r.progress
  const wrap = h('div', { class: 'panel' },
    h('p', {}, badge(r.status), ` ${r.sync_type} sync${runTarget(r)}${r.dry_run ? ' (dry run)' : ''}, started `, when(r.started_at ?? r.created_at)))
  if (p) {
    const max = Math.max(p.members_to_change, 1)
    wrap.append(
      h('p', { class: 'progress-text' }, `Phase: ${p.phase}. Guilds ${p.guilds_done}/${p.guilds_total}. Members scanned: ${p.members_scanned}; to change: ${p.members_to_change}; applied: ${p.members_applied}.`),
      h('progress', { max: String(max), value: String(Math.min(p.members_applied, max)), 'aria-label': 'Members applied' }))
  }
  return wrap
}

function runSummary (r) {
  const res = r.results
  return h('div', {},
    h('p', {}, badge(r.status), ` ${r.sync_type} sync${runTarget(r)}${r.dry_run ? ' (dry run: nothing was written)' : ''}${r.force ? ' (forced)' : ''}. `,
      `Members processed: ${res.users_processed}, in sync or fixed: ${res.users_synced}, failed: ${res.users_failed}. `,
      r.dry_run ? '' : `Roles added: ${res.roles_added}, removed: ${res.roles_removed}.`),
    table([
      { label: 'Guild', value: (g) => guildName(g.guild_id) },
      { label: 'Status', value: (g) => badge(g.status) },
      { label: 'Scanned', num: true, value: (g) => g.members_scanned },
      { label: 'Members to change', num: true, value: (g) => g.members_to_change },
      { label: 'Planned changes', num: true, value: (g) => g.planned_changes },
      { label: 'Not allowed', num: true, value: (g) => g.blocked_changes },
      { label: 'Added', num: true, value: (g) => g.roles_added },
      { label: 'Removed', num: true, value: (g) => g.roles_removed },
      { label: 'Note', value: (g) => g.reason ?? '—' }
    ], res.guilds, { empty: 'No guild was synced (none enabled?).' }),
    // The brake's own error is the blocked panel above; the rest are per-member or per-guild failures.
    res.errors.filter((e) => e.code !== 'brake').length > 0
      ? [h('h3', {}, 'Errors'), table([
          { label: 'Guild', value: (e) => e.guild_id ? guildName(e.guild_id) : '—' },
          { label: 'Member', value: (e) => e.discord_user_id ?? e.user_id ?? '—' },
          { label: 'Error', value: (e) => e.error },
          { label: 'Code', value: (e) => e.code ?? '—' }
        ], res.errors.filter((e) => e.code !== 'brake').slice(0, 50))]
      : null)
}

const OUTCOME_NOTE = {
  blocked_hierarchy: 'role is not below the bot',
  blocked_managed: 'role is managed by an integration',
  blocked_missing_role: 'role no longer exists',
  brake: 'held by the safety brake',
  guild_halted: 'guild halted'
}

function auditColumns () {
  return [
    { label: 'When', value: (e) => when(e.created_at) },
    { label: 'Guild', value: (e) => guildName(e.guild_id) },
    { label: 'Discord user', value: (e) => h('span', { class: 'mono' }, e.discord_user_id) },
    { label: 'Host user', value: (e) => e.user_id ?? 'not linked' },
    { label: 'Role', value: (e) => e.role_name ?? e.role_id },
    { label: 'Change', value: (e) => badge(e.action) },
    { label: 'Outcome', value: (e) => badge(e.outcome) },
    { label: 'Detail', value: (e) => e.error_code ? (OUTCOME_NOTE[e.error_code] ?? e.error_code) : '—' },
    { label: 'Run', value: (e) => e.run_id ? h('a', { href: `#/audit?run_id=${encodeURIComponent(e.run_id)}` }, e.run_id.slice(0, 8)) : '—' }
  ]
}

/** The changes of one run, paged 50 at a time. */
async function changesView (runId, title) {
  const box = h('div', { class: 'changes' })
  const load = async (page) => {
    const data = await api('GET', `sync/audit${query({ run_id: runId, page, page_size: 50 })}`)
    box.textContent = ''
    const pages = Math.max(1, Math.ceil(data.total / data.page_size))
    append(box, [
      h('h3', {}, `${title} (${data.total})`),
      table(auditColumns().filter((c) => c.label !== 'Run' && c.label !== 'When'), data.entries, { empty: title === 'Planned changes' ? 'No change is needed: every member already has the right roles.' : 'No role was changed.' }),
      pager(page, pages, (p) => load(p).catch((err) => box.append(errorBox(err))))])
  }
  await load(1)
  return box
}

function pager (page, pages, goTo) {
  if (pages <= 1) return null
  const prev = h('button', { type: 'button', class: 'secondary', disabled: page <= 1 }, 'Previous')
  const next = h('button', { type: 'button', class: 'secondary', disabled: page >= pages }, 'Next')
  prev.addEventListener('click', () => goTo(page - 1))
  next.addEventListener('click', () => goTo(page + 1))
  return h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, h('span', {}, `Page ${page} of ${pages}`), next)
}

function runsTable (runs) {
  return table([
    { label: 'Run', value: (r) => h('a', { href: `#/audit?run_id=${encodeURIComponent(r.id)}` }, r.id.slice(0, 8)) },
    { label: 'Type', value: (r) => `${r.sync_type}${r.dry_run ? ' (dry run)' : ''}${r.force ? ' (forced)' : ''}` },
    { label: 'Target', value: (r) => r.target_id ? (r.sync_type === 'guild' ? guildName(r.target_id) : r.target_id) : 'all guilds' },
    { label: 'Status', value: (r) => badge(r.status) },
    { label: 'Started', value: (r) => when(r.started_at ?? r.created_at) },
    { label: 'Duration', num: true, value: (r) => r.duration === null ? '—' : `${(r.duration / 1000).toFixed(1)} s` },
    { label: 'Added', num: true, value: (r) => r.results.roles_added },
    { label: 'Removed', num: true, value: (r) => r.results.roles_removed },
    { label: 'By', value: (r) => r.initiated_by }
  ], runs, { empty: 'No sync has run yet.' })
}

// ------------------------------------------------------------------ audit (admin)

async function auditPage (main, params) {
  main.append(h('h1', { tabindex: '-1' }, 'Audit trail'))
  const guilds = await loadGuilds()
  const filters = {
    guild_id: params.get('guild_id') ?? '',
    discord_user_id: params.get('discord_user_id') ?? '',
    user_id: params.get('user_id') ?? '',
    run_id: params.get('run_id') ?? ''
  }
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1)
  const form = h('form', { class: 'grid', role: 'search', 'aria-label': 'Filter the audit trail' },
    field('Guild', h('select', { name: 'guild_id' }, h('option', { value: '' }, 'All guilds'), guilds.map((g) => h('option', { value: g.guild_id, selected: g.guild_id === filters.guild_id }, g.guild_name)))),
    field('Discord user id', h('input', { name: 'discord_user_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: filters.discord_user_id })),
    field('Host user id', h('input', { name: 'user_id', value: filters.user_id })),
    field('Run id', h('input', { name: 'run_id', value: filters.run_id })),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Filter'), h('a', { class: 'button secondary', href: '#/audit' }, 'Clear')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const f = form.elements
    go(`#/audit${query({ guild_id: f.guild_id.value, discord_user_id: f.discord_user_id.value.trim(), user_id: f.user_id.value.trim(), run_id: f.run_id.value.trim() })}`)
  })
  main.append(h('section', { class: 'panel' }, form))
  const data = await api('GET', `sync/audit${query({ ...filters, page, page_size: 50 })}`)
  const pages = Math.max(1, Math.ceil(data.total / data.page_size))
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'al' },
    h('h2', { id: 'al' }, `Role changes (${data.total})`),
    table(auditColumns(), data.entries, { empty: 'No role change matches these filters.' }),
    pager(page, pages, (p) => go(`#/audit${query({ ...filters, page: p })}`))))
}

// ------------------------------------------------------------------ my account (everyone)

async function accountPage (main) {
  const s = state.session
  main.append(h('h1', { tabindex: '-1' }, 'My account'))
  const status = await api('GET', 'auth/status')
  const out = h('div')
  const relink = async (button) => {
    const { auth_url: authUrl } = await api('POST', 'auth/link', { redirect_url: UI_URL })
    sessionStorage.setItem(RETURN_KEY, '#/account')
    if (button) button.disabled = true
    location.assign(authUrl)
  }
  const linkSection = h('section', { class: 'panel', 'aria-labelledby': 'acc-link' }, h('h2', { id: 'acc-link' }, 'Discord link'),
    h('p', {}, 'Host user ', h('strong', { class: 'mono' }, s.user_id), s.is_admin ? [' ', badge('info', 'admin')] : null))
  if (status.accounts.length === 0) {
    const link = h('button', { type: 'button' }, 'Link a Discord account')
    action(link, out, () => relink(link))
    linkSection.append(h('p', {}, 'No Discord account is linked to you.'), h('div', { class: 'actions' }, link))
  }
  for (const a of status.accounts) {
    const again = h('button', { type: 'button', class: a.needs_reauth ? null : 'secondary' }, 'Re-link')
    action(again, out, () => relink(again))
    const unlink = h('button', { type: 'button', class: 'danger' }, 'Unlink…')
    action(unlink, out, async () => {
      const ok = await confirmDialog({
        title: `Unlink ${a.username}?`,
        body: 'The Discord authorisation is revoked, the link is deleted and the roles this service gave you are removed from the guilds it manages.',
        confirmLabel: 'Unlink',
        danger: true
      })
      if (!ok) return
      const r = await api('DELETE', `auth/unlink/${a.discord_user_id}`)
      notify(`Unlinked ${a.username}${r.role_removal.queued ? '; managed roles are being removed' : ''}.`)
      render()
    })
    linkSection.append(h('div', { class: 'panel' },
      h('h3', {}, a.global_name ?? a.username, ' ', h('span', { class: 'muted small' }, `@${a.username}`)),
      a.needs_reauth ? h('p', { class: 'warning' }, 'Discord no longer accepts this link: re-link to keep your roles in sync.') : null,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Discord id'), h('dd', { class: 'mono' }, a.discord_user_id),
        h('dt', {}, 'Scopes'), h('dd', {}, a.scopes.join(' ') || '—'),
        h('dt', {}, 'Guilds seen'), h('dd', {}, String(a.guild_count)),
        h('dt', {}, 'Linked'), h('dd', {}, when(a.linked_at)),
        h('dt', {}, 'Last role sync'), h('dd', {}, when(a.last_sync))),
      h('div', { class: 'actions' }, again, unlink)))
  }
  linkSection.append(out)
  main.append(linkSection)

  const syncOut = h('div', { 'aria-live': 'polite' })
  const syncMe = h('button', { type: 'button', disabled: status.accounts.length === 0 }, 'Sync my roles now')
  action(syncMe, syncOut, async () => {
    const r = await api('POST', `sync/user/${encodeURIComponent(s.user_id)}`)
    syncOut.append(h('p', { class: 'success' }, `Synced in ${r.successful_guilds} of ${r.total_guilds} guild(s)${r.failed_guilds > 0 ? `; ${r.failed_guilds} failed` : ''}.`),
      table([
        { label: 'Guild', value: (g) => g.guild_name },
        { label: 'Added', value: (g) => g.roles_added.join(', ') || '—' },
        { label: 'Removed', value: (g) => g.roles_removed.join(', ') || '—' },
        { label: 'Roles now', num: true, value: (g) => g.total_roles },
        { label: 'Errors', value: (g) => g.errors.join('; ') || '—' }
      ], r.sync_results, { empty: 'You are not in any guild this service manages.' }))
  })
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'acc-sync' }, h('h2', { id: 'acc-sync' }, 'My roles'),
    h('p', { class: 'muted small' }, 'Your Discord roles follow your groups here. Syncing applies that now instead of at the next scheduled sync.'),
    h('div', { class: 'actions' }, syncMe), syncOut))

  const history = h('section', { class: 'panel', 'aria-labelledby': 'acc-hist' }, h('h2', { id: 'acc-hist' }, 'My recent role changes'))
  main.append(history)
  try {
    const data = await api('GET', `sync/audit${query({ user_id: s.user_id, page_size: 20 })}`)
    history.append(table(auditColumns().filter((c) => !['Host user', 'Run'].includes(c.label)), data.entries, { empty: 'No role change yet.' }))
  } catch (err) {
    history.append(errorBox(err))
  }
}

// ------------------------------------------------------------------ start

async function boot () {
  try {
    state.session = await api('GET', 'session')
  } catch (err) {
    const main = document.getElementById('main')
    main.textContent = ''
    main.append(h('h1', { tabindex: '-1' }, 'Discord role sync'), errorBox(err))
    return
  }
  // Back from Discord: return to the page the sign-in or re-link started from.
  const back = sessionStorage.getItem(RETURN_KEY)
  if (state.session.authenticated && back !== null) {
    sessionStorage.removeItem(RETURN_KEY)
    if (location.hash !== back) {
      location.hash = back
      return
    }
  }
  await render()
}

window.addEventListener('hashchange', () => {
  if (!location.hash.startsWith('#/') && location.hash !== '') return
  if (state.session !== null) render()
})
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault()
  document.getElementById('main').focus()
})
// Remember where a signed-out visitor wanted to go, so sign-in returns there.
if (location.hash.startsWith('#/') && location.hash !== '#/') sessionStorage.setItem(RETURN_KEY, location.hash)
takeCallbackError()
boot()
