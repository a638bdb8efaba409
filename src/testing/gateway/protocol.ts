/*
 * The Gateway's vocabulary, from docs/opcodes-and-status-codes.mdx ("Gateway Opcodes", "Gateway
 * Close Event Codes"), docs/gateway.mdx ("List of Intents", "Privileged Intents") and
 * docs/gateway-events.mdx ("Payload Structure").
 */

/** Gateway opcodes (docs/opcodes-and-status-codes.mdx "Gateway Opcodes"). */
export const Op = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  VOICE_STATE_UPDATE: 4,
  RESUME: 6,
  RECONNECT: 7,
  REQUEST_GUILD_MEMBERS: 8,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
  REQUEST_SOUNDBOARD_SOUNDS: 31,
  REQUEST_CHANNEL_INFO: 43
} as const

/** Opcodes a client may send (the "Send" column). */
export const CLIENT_OPS: ReadonlySet<number> = new Set([Op.HEARTBEAT, Op.IDENTIFY, Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE, Op.RESUME, Op.REQUEST_GUILD_MEMBERS, Op.REQUEST_SOUNDBOARD_SOUNDS, Op.REQUEST_CHANNEL_INFO])

/** Gateway close event codes the simulator sends (docs/opcodes-and-status-codes.mdx). */
export const CloseCode = {
  UNKNOWN_ERROR: 4000,
  UNKNOWN_OPCODE: 4001,
  DECODE_ERROR: 4002,
  NOT_AUTHENTICATED: 4003,
  AUTHENTICATION_FAILED: 4004,
  ALREADY_AUTHENTICATED: 4005,
  INVALID_SEQ: 4007,
  RATE_LIMITED: 4008,
  SESSION_TIMED_OUT: 4009,
  INVALID_SHARD: 4010,
  SHARDING_REQUIRED: 4011,
  INVALID_API_VERSION: 4012,
  INVALID_INTENTS: 4013,
  DISALLOWED_INTENTS: 4014
} as const

/** The intents the simulator acts on (docs/gateway.mdx "List of Intents"); the privileged ones are checked at IDENTIFY. */
export const Intent = {
  GUILDS: 1 << 0,
  GUILD_MEMBERS: 1 << 1,
  GUILD_PRESENCES: 1 << 8,
  MESSAGE_CONTENT: 1 << 15
} as const

/** Every documented intent bit: 0-16, 20, 21, 24, 25. Anything else closes the connection with 4013. */
export const KNOWN_INTENTS = 0x1ffff | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25)

/** "Must not exceed 4096 bytes" (docs/gateway.mdx "Sending Events"); larger payloads close with 4002. */
export const MAX_CLIENT_PAYLOAD_BYTES = 4096

/** The only API version the simulator speaks (docs/reference.mdx). */
export const GATEWAY_VERSION = 10

/** docs/gateway.mdx "Example Hello Event". */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 45_000

/** A Gateway payload (docs/gateway-events.mdx "Payload Structure"): `s` and `t` are null unless `op` is 0. */
export interface GatewayPayload {
  op: number
  d: unknown
  s: number | null
  t: string | null
}

export function payload (op: number, d: unknown): GatewayPayload {
  return { op, d, s: null, t: null }
}

/** Which intent a dispatch needs (docs/gateway.mdx "List of Intents"); null: always sent. */
export const EVENT_INTENT: Readonly<Record<string, number | null>> = {
  READY: null,
  RESUMED: null,
  GUILD_CREATE: Intent.GUILDS,
  GUILD_DELETE: Intent.GUILDS,
  GUILD_ROLE_CREATE: Intent.GUILDS,
  GUILD_ROLE_UPDATE: Intent.GUILDS,
  GUILD_ROLE_DELETE: Intent.GUILDS,
  GUILD_MEMBER_ADD: Intent.GUILD_MEMBERS,
  GUILD_MEMBER_UPDATE: Intent.GUILD_MEMBERS,
  GUILD_MEMBER_REMOVE: Intent.GUILD_MEMBERS
}

/** docs/gateway.mdx "Sharding Formula": shard_id = (guild_id >> 22) % num_shards. */
export function shardOf (guildId: string, numShards: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(numShards))
}
