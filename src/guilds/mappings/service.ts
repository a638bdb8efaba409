import type { DiscordStore, GuildConfigRecord, GuildSettings, ListRoleMappingsPage, RoleMappingBatch, RoleMappingRecord, UpdateRoleMappingInput } from '../../store/port/index.js'
import {
  BotMissingPermissionError,
  ImportInvalidError,
  NotFoundError,
  RoleAboveBotError,
  RoleEveryoneError,
  RoleManagedError,
  RoleNotFoundError,
  StoreConflictError,
  ValidationError
} from '../../errors.js'
import type {
  CreateMappingBodyType,
  ImportReportType,
  MappingExportType,
  MappingImportBodyType,
  UpdateMappingBodyType
} from '../../schemas/role-mappings.js'
import { checkRoleAssignable, type RoleVerdict } from '../permissions.js'
import type { GuildService } from '../service.js'
import { aliasValue, conditionsFromInput, conditionsProblem, mergeConditions } from './rules.js'
import { buildExport, planImport } from './transfer.js'

/*
 * Role mappings. A mapping is only stored when Discord says its role can be assigned by
 * the guild's bot right now (exists, not @everyone, not managed, below the bot's highest
 * role): a mapping that can never work would only surface later as failed syncs.
 * Cheap checks (input, existence, duplicates) run before any Discord call.
 */

export interface MappingServiceDeps {
  store: DiscordStore
  guilds: GuildService
  now?: () => Date
}

/** Thrown by the import route with the report attached, so the client sees every invalid entry. */
export interface ImportRejection extends Error {
  report: ImportReportType
}

function enabledFrom (body: { enabled?: boolean, is_active?: boolean }): boolean | undefined {
  return aliasValue(body.enabled, body.is_active, ['enabled', 'is_active'])
}

/** One error per reason, so a client can branch on the code and an admin reads what to fix. */
function throwDenial (verdict: RoleVerdict): void {
  switch (verdict.denial) {
    case null: return
    case 'role_not_found': throw new RoleNotFoundError(verdict.message)
    case 'everyone_role': throw new RoleEveryoneError(verdict.message)
    case 'managed_role': throw new RoleManagedError(verdict.message)
    case 'missing_manage_roles': throw new BotMissingPermissionError(verdict.message)
    case 'role_not_below_bot': throw new RoleAboveBotError(verdict.message)
  }
}

export class MappingService {
  readonly #store: DiscordStore
  readonly #guilds: GuildService
  readonly #now: () => Date

  constructor (deps: MappingServiceDeps) {
    this.#store = deps.store
    this.#guilds = deps.guilds
    this.#now = deps.now ?? (() => new Date())
  }

  async get (mappingId: string): Promise<RoleMappingRecord> {
    const mapping = await this.#store.getMapping(mappingId)
    if (mapping === null) throw new NotFoundError(`Role mapping ${mappingId} does not exist`)
    return mapping
  }

  list (query: { guild_id?: string, enabled?: boolean }): Promise<RoleMappingRecord[]> {
    return this.#store.listMappings(query)
  }

  /**
   * One page of a mapping list (keyset: strictly after `after`, at most `limit`) and how many
   * mappings match the filter in all (a COUNT on the guild index: mapping tables are small).
   * With `guild_id`, 404 when the guild is not configured (an empty list would hide a typo).
   */
  async page (query: ListRoleMappingsPage & { limit: number }, guildMustExist: boolean): Promise<{ items: RoleMappingRecord[], total: number, more: boolean }> {
    if (guildMustExist && query.guild_id !== undefined) await this.#guilds.get(query.guild_id)
    const filter = { ...(query.guild_id === undefined ? {} : { guild_id: query.guild_id }), ...(query.enabled === undefined ? {} : { enabled: query.enabled }) }
    // One more than asked tells whether another page follows without a second query.
    const [rows, total] = await Promise.all([this.#store.listMappings({ ...query, limit: query.limit + 1 }), this.#store.countMappings(filter)])
    return { items: rows.slice(0, query.limit), total, more: rows.length > query.limit }
  }

  /** A configured guild's mappings; 404 when the guild is not configured (an empty list would hide a typo). */
  async listForGuild (guildId: string, query: { enabled?: boolean } = {}): Promise<RoleMappingRecord[]> {
    await this.#guilds.get(guildId)
    return await this.#store.listMappings({ ...query, guild_id: guildId })
  }

  async #assertPairFree (guildId: string, groupId: string, roleId: string, exceptId?: string): Promise<void> {
    const taken = (await this.#store.listMappings({ guild_id: guildId }))
      .find((m) => m.group_id === groupId && m.discord_role_id === roleId && m.id !== exceptId)
    if (taken !== undefined) {
      throw new StoreConflictError(`Group "${groupId}" is already mapped to role ${roleId} in guild ${guildId} (mapping ${taken.id})`)
    }
  }

  async create (guildId: string, body: CreateMappingBodyType, actorId: string | null): Promise<RoleMappingRecord> {
    const enabled = enabledFrom(body)
    const conditions = conditionsFromInput(body.conditions)
    const problem = conditionsProblem(conditions, body.group_id)
    if (problem !== null) throw new ValidationError(problem)
    await this.#guilds.get(guildId)
    await this.#assertPairFree(guildId, body.group_id, body.discord_role_id)

    const { inspection } = await this.#guilds.inspect(guildId)
    const verdict = checkRoleAssignable(inspection.facts, body.discord_role_id, inspection.permissions)
    throwDenial(verdict)
    return await this.#store.createMapping({
      guild_id: guildId,
      group_id: body.group_id,
      group_name: body.group_name ?? null,
      discord_role_id: body.discord_role_id,
      // Discord's current name, not the request's: the request's may be stale or mistyped.
      discord_role_name: verdict.role?.name ?? body.discord_role_name ?? null,
      conditions,
      priority: body.priority ?? 1,
      exclusive_set: body.exclusive_set ?? null,
      enabled: enabled ?? true,
      created_by: actorId
    })
  }

  async update (mappingId: string, body: UpdateMappingBodyType): Promise<RoleMappingRecord> {
    const enabled = enabledFrom(body)
    const current = await this.get(mappingId)
    const groupId = body.group_id ?? current.group_id
    const roleId = body.discord_role_id ?? current.discord_role_id
    const conditions = mergeConditions(current.conditions, body.conditions)
    const problem = conditionsProblem(conditions, groupId)
    if (problem !== null) throw new ValidationError(problem)
    if (groupId !== current.group_id || roleId !== current.discord_role_id) {
      await this.#assertPairFree(current.guild_id, groupId, roleId, current.id)
    }

    const patch: UpdateRoleMappingInput = {}
    if (body.group_id !== undefined) patch.group_id = body.group_id
    if (body.group_name !== undefined) patch.group_name = body.group_name
    if (body.conditions !== undefined) patch.conditions = conditions
    if (body.priority !== undefined) patch.priority = body.priority
    if (body.exclusive_set !== undefined) patch.exclusive_set = body.exclusive_set
    if (enabled !== undefined) patch.enabled = enabled
    // `discord_role_name` in a request is informational (the seed sends it): the stored name is
    // always the one Discord reported at the last check, never a client's label.

    // Only a new role, or switching a mapping back on, needs Discord's word: editing a
    // priority must keep working while the guild's roles are being rearranged.
    const turnsOn = enabled === true && !current.enabled
    if (roleId !== current.discord_role_id || turnsOn) {
      const { inspection } = await this.#guilds.inspect(current.guild_id)
      const verdict = checkRoleAssignable(inspection.facts, roleId, inspection.permissions)
      throwDenial(verdict)
      patch.discord_role_id = roleId
      patch.discord_role_name = verdict.role?.name ?? current.discord_role_name
    }
    const updated = await this.#store.updateMapping(mappingId, patch)
    if (updated === null) throw new NotFoundError(`Role mapping ${mappingId} does not exist`)
    return updated
  }

  async remove (mappingId: string): Promise<void> {
    if (!await this.#store.deleteMapping(mappingId)) throw new NotFoundError(`Role mapping ${mappingId} does not exist`)
  }

  /**
   * Writes the settings, then the mapping batch (all or nothing); a batch the store refuses puts
   * the previous settings back, so a failed import leaves the guild as it was.
   */
  async #applyWithSettings (guild: GuildConfigRecord, settings: GuildSettings | null, batch: RoleMappingBatch): Promise<Awaited<ReturnType<DiscordStore['applyMappingBatch']>>> {
    if (settings === null) return await this.#store.applyMappingBatch(guild.guild_id, batch)
    await this.#store.updateGuild(guild.guild_id, { settings })
    try {
      return await this.#store.applyMappingBatch(guild.guild_id, batch)
    } catch (err) {
      await this.#store.updateGuild(guild.guild_id, { settings: guild.settings }).catch(() => { /* the batch's error is the one to report */ })
      throw err
    }
  }

  async exportGuild (guildId: string): Promise<MappingExportType> {
    const guild = await this.#guilds.get(guildId)
    const mappings = await this.#store.listMappings({ guild_id: guildId })
    return buildExport(guildId, mappings, this.#now(), guild.settings)
  }

  /**
   * Validates the whole document against Discord's current roles, then applies every change
   * in one all-or-nothing store batch. A dry run, or a document with any invalid entry,
   * writes nothing; the latter is rejected with the full report attached. The document's
   * settings, when it has them, are checked first exactly as a guild save checks them (a bad
   * value 400, a permission the bot lacks 422: nothing is written) and stored with the mappings.
   */
  async importGuild (guildId: string, body: MappingImportBodyType, actorId: string | null): Promise<ImportReportType> {
    if (body.guild_id !== undefined && body.guild_id !== guildId) {
      throw new ValidationError(`The document is for guild ${body.guild_id} but is imported into guild ${guildId}: role ids differ between guilds`)
    }
    const inspected = await this.#guilds.inspect(guildId)
    const { inspection } = inspected
    const settings = body.settings === undefined ? null : await this.#guilds.checkSettingsChange(inspected, body.settings)
    const plan = planImport({
      guildId,
      mode: body.mode ?? 'merge',
      dryRun: body.dry_run ?? false,
      entries: body.mappings,
      existing: await this.#store.listMappings({ guild_id: guildId }),
      facts: inspection.facts,
      createdBy: actorId
    })
    plan.report.settings_changed = settings?.changed ?? []
    // A dry run reports invalid entries too, as a plain answer: validating is what it was asked for.
    if (plan.report.dry_run) return plan.report
    if (!plan.valid) {
      const message = `${plan.report.invalid.length} of ${body.mappings.length} entries are invalid; nothing was imported`
      const rejection: ImportRejection = Object.assign(new ImportInvalidError(message), { report: plan.report })
      throw rejection
    }

    const result = await this.#applyWithSettings(inspected.guild, settings?.changed.length === 0 ? null : settings?.next ?? null, plan.batch)
    const createdIds = new Map(result.created.map((m) => [`${m.group_id}\u0000${m.discord_role_id}`, m.id]))
    for (const entry of plan.report.created) entry.mapping_id = createdIds.get(`${entry.group_id}\u0000${entry.discord_role_id}`) ?? null
    plan.report.applied = true
    return plan.report
  }
}
