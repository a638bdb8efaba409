// @ts-check
/* Export a guild's mappings as a JSON document, and import one (validated as a whole first). */
import { api, ApiError, errorField } from '../../api.js'
import { action } from '../../components/action.js'
import { confirmDialog } from '../../components/dialog.js'
import { download } from '../../components/download.js'
import { errorBox } from '../../components/errors.js'
import { field } from '../../components/forms.js'
import { notify } from '../../components/notice.js'
import { table } from '../../components/table.js'
import { h } from '../../dom.js'
import { secondaryId } from '../../components/ids.js'

/**
 * @typedef {import('../../types.js').ImportReport} ImportReport
 * @typedef {import('../../types.js').ImportMode} ImportMode
 * @typedef {import('../../types.js').MappingExport} MappingExport
 */

/**
 * @param {string} guildId
 * @param {() => Promise<unknown>} onImported re-reads the mappings table after an import changed it
 */
export function transferSection (guildId, onImported) {
  const out = h('div')
  const exportOut = h('div')
  const textarea = h('textarea', { name: 'document', spellcheck: 'false' })
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Export mappings')
  action(exportButton, exportOut, async () => {
    const doc = /** @type {MappingExport} */ (await api('GET', `guilds/${guildId}/role-mappings/export`))
    const text = JSON.stringify(doc, null, 2)
    exportOut.append(h('p', {}, `${doc.mappings.length} mapping(s) exported. `, download(`role-mappings-${guildId}.json`, text)))
    textarea.value = text
  })
  const file = h('input', { type: 'file', accept: 'application/json,.json' })
  file.addEventListener('change', async () => {
    const f = file.files?.[0]
    if (f) textarea.value = await f.text()
  })
  const mode = h('select', { name: 'mode' }, h('option', { value: 'merge' }, 'merge: create and update, keep the rest'), h('option', { value: 'replace' }, 'replace: also delete mappings not in the document'))
  /** @param {boolean} dryRun */
  const send = async (dryRun) => {
    /** @type {unknown} */
    let parsed
    try {
      parsed = JSON.parse(textarea.value)
    } catch {
      throw new ApiError(400, 'FST_DISCORD_VALIDATION', 'The document is not valid JSON.')
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(400, 'FST_DISCORD_VALIDATION', 'The document must be a JSON object as produced by Export.')
    // The server validates the rest of the document; the UI passes its fields on as they are.
    const doc = /** @type {Record<string, unknown>} */ (parsed)
    /** @type {{ version: unknown, mappings: unknown, mode: ImportMode, dry_run: boolean, guild_id?: unknown }} */
    const body = { version: doc.version, mappings: doc.mappings, mode: /** @type {ImportMode} */ (mode.value), dry_run: dryRun }
    if (doc.guild_id !== undefined) body.guild_id = doc.guild_id
    const url = `guilds/${guildId}/role-mappings/import`
    try {
      if (!dryRun && body.mode === 'replace') {
        // Replace deletes every mapping the document leaves out: name them and ask first, as deleting one mapping does.
        // (A document with an invalid entry is refused whole by the import itself: no question then.)
        const preview = /** @type {ImportReport} */ (await api('POST', url, { ...body, dry_run: true }))
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
      const report = /** @type {ImportReport} */ (await api('POST', url, body))
      out.append(importReport(report))
      if (!dryRun) {
        notify('Mappings imported.')
        await onImported()
      }
    } catch (err) {
      const report = err instanceof ApiError ? /** @type {ImportReport | undefined} */ (errorField(err, 'report')) : undefined
      if (report) out.append(errorBox(err), importReport(report))
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

/**
 * What an import did or would do, entry by entry.
 * @param {ImportReport} r
 */
function importReport (r) {
  /** @type {{ what: string, group_id: string, discord_role_id: string, message?: string }[]} */
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
      { label: 'Role id', value: (e) => secondaryId(e.discord_role_id) },
      { label: 'Problem', value: (e) => e.message ?? '—' }
    ], rows, { empty: 'The document has no mappings.' }))
}
