import type { SimulatorState } from '../state/simulator-state.js'
import type { SimBot } from '../state/types.js'
import { CloseCode, Intent, KNOWN_INTENTS } from './protocol.js'

/*
 * Checking an IDENTIFY (docs/gateway-events.mdx "Identify Structure") in the order the close
 * codes describe it: a malformed payload 4002, the token 4004, unknown intent bits 4013, a
 * privileged intent the app has not enabled 4014 (docs/gateway.mdx "Gateway Restrictions"),
 * an impossible shard 4010.
 */

export interface IdentifyOk {
  ok: true
  bot: SimBot
  token: string
  intents: number
  shard: [number, number] | null
  largeThreshold: number
}

export type IdentifyResult = IdentifyOk | { ok: false, code: number, reason: string }

function refuse (code: number, reason: string): IdentifyResult {
  return { ok: false, code, reason }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The privileged intents the app asked for but has not enabled. */
function disallowed (bot: SimBot, intents: number): string[] {
  const out: string[] = []
  if ((intents & Intent.GUILD_MEMBERS) !== 0 && !bot.guildMembersIntent) out.push('GUILD_MEMBERS')
  if ((intents & Intent.GUILD_PRESENCES) !== 0 && !bot.guildPresencesIntent) out.push('GUILD_PRESENCES')
  if ((intents & Intent.MESSAGE_CONTENT) !== 0 && !bot.messageContentIntent) out.push('MESSAGE_CONTENT')
  return out
}

export function checkIdentify (state: SimulatorState, d: unknown): IdentifyResult {
  if (!isRecord(d) || typeof d.token !== 'string' || !isRecord(d.properties)) return refuse(CloseCode.DECODE_ERROR, 'Decode error')
  // The bare token, as in the docs' example payloads (no "Bot " prefix on the Gateway).
  const token = d.token
  const bot = state.findBot(token)
  if (bot === undefined) return refuse(CloseCode.AUTHENTICATION_FAILED, 'Authentication failed.')
  const intents = d.intents
  // "intents are mandatory and must be specified when identifying" on v8 and above.
  if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || (intents & ~KNOWN_INTENTS) !== 0) {
    return refuse(CloseCode.INVALID_INTENTS, 'Invalid intent(s).')
  }
  const missing = disallowed(bot, intents)
  if (missing.length > 0) return refuse(CloseCode.DISALLOWED_INTENTS, `Disallowed intent(s): ${missing.join(', ')}.`)
  let shard: [number, number] | null = null
  if (d.shard !== undefined) {
    const s = d.shard
    if (!Array.isArray(s) || s.length !== 2 || !s.every((n) => Number.isInteger(n)) || s[1] < 1 || s[0] < 0 || s[0] >= s[1]) {
      return refuse(CloseCode.INVALID_SHARD, 'Invalid shard.')
    }
    shard = [s[0] as number, s[1] as number]
  }
  // "Value between 50 and 250", default 50.
  const lt = d.large_threshold
  const largeThreshold = typeof lt === 'number' && Number.isInteger(lt) ? Math.min(250, Math.max(50, lt)) : 50
  return { ok: true, bot, token, intents, shard, largeThreshold }
}
