import type { FastifyRequest } from 'fastify'
import type { SimContext } from '../../context.js'
import { isSnowflake } from '../../snowflake.js'
import type { SimBot, SimGuild, SimMember } from '../../state/types.js'
import { FormBody } from '../body.js'
import { Errors, formErrors } from '../errors.js'
import type { RequestCtx } from '../request.js'

/*
 * Reading a bot route's inputs the way Discord validates them: path snowflakes and query values
 * (50035 with the field's error), the bot and its guild (10004 / 50001), the target member (10007).
 */

export type Params = Record<string, string>

export function snowflakeParam (params: Params, name: string): string {
  const value = params[name] ?? ''
  if (!isSnowflake(value)) {
    throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_COERCE', message: `Value "${value}" is not snowflake.` }]))
  }
  return value
}

export function botOf (ctx: RequestCtx): SimBot {
  if (ctx.bot === undefined) throw Errors.unauthorized()
  return ctx.bot
}

/** Guild lookup from the bot's point of view: unknown guild 10004, bot not in it 50001. */
export function guildForBot (sim: SimContext, params: Params, bot: SimBot): { guild: SimGuild, self: SimMember } {
  const guildId = snowflakeParam(params, 'guild_id')
  const guild = sim.state.getGuild(guildId)
  if (guild === undefined) throw Errors.unknownGuild()
  const self = guild.members.get(bot.userId)
  if (self === undefined) throw Errors.missingAccess()
  return { guild, self }
}

export function memberOf (guild: SimGuild, params: Params): SimMember {
  const userId = snowflakeParam(params, 'user_id')
  const member = guild.members.get(userId)
  if (member === undefined) throw Errors.unknownMember()
  return member
}

/** docs/reference.mdx "Boolean Query Strings": True/true/1 and False/false/0. */
export function booleanQuery (query: Record<string, string | undefined>, name: string): boolean {
  const value = query[name]
  if (value === undefined) return false
  if (value === 'True' || value === 'true' || value === '1') return true
  if (value === 'False' || value === 'false' || value === '0') return false
  throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'BASE_TYPE_BOOLEAN', message: 'Must be either true or false.' }]))
}

export function integerQuery (query: Record<string, string | undefined>, name: string, min: number, max: number, fallback: number): number {
  const raw = query[name]
  if (raw === undefined) return fallback
  if (!/^-?\d+$/.test(raw)) {
    throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_COERCE', message: `Value "${raw}" is not int.` }]))
  }
  const n = Number(raw)
  if (n < min) throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_MIN', message: `int value should be greater than or equal to ${min}.` }]))
  if (n > max) throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_MAX', message: `int value should be less than or equal to ${max}.` }]))
  return n
}

export function snowflakeQuery (query: Record<string, string | undefined>, name: string): string | undefined {
  const raw = query[name]
  if (raw === undefined) return undefined
  if (!isSnowflake(raw)) throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_COERCE', message: `Value "${raw}" is not snowflake.` }]))
  return raw
}

/** JSON routes: a form body is turned into its string fields (which then fail typed validation, as Discord's would). */
export function jsonBody (request: FastifyRequest): unknown {
  const body = request.body
  if (body instanceof FormBody) return { ...body.fields }
  return body ?? {}
}
