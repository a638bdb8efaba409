import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { checkPostableChannel, type ChannelFacts } from '../../src/guilds/channels.js'
import { ALL_PERMISSIONS, computeBasePermissions, computeChannelPermissions, Permission, type BotGuildFacts, type OverwriteFacts } from '../../src/guilds/permissions.js'
import * as simulator from '../../src/testing/permissions.js'

/*
 * The channel check behind audit_channel_id / notification_channel_id, and the docs'
 * compute_overwrites it rests on (docs/permissions.mdx "Permission Overwrites").
 */

const GUILD = '123456789012345678'
const BOT = '223456789012345678'
const BOT_ROLE = '400000000000000001'
const OTHER_ROLE = '400000000000000002'
const VIEW = Permission.VIEW_CHANNEL
const SEND = Permission.SEND_MESSAGES

function facts (botRolePermissions: bigint = VIEW | SEND | Permission.MANAGE_ROLES, everyone: bigint = 0n, overrides: Partial<BotGuildFacts> = {}): BotGuildFacts {
  return {
    guild_id: GUILD,
    owner_id: '323456789012345678',
    bot_user_id: BOT,
    member_role_ids: [BOT_ROLE],
    roles: [
      { id: GUILD, name: '@everyone', position: 0, permissions: everyone.toString(), managed: false },
      { id: BOT_ROLE, name: 'bot', position: 5, permissions: botRolePermissions.toString(), managed: false },
      { id: OTHER_ROLE, name: 'other', position: 3, permissions: '0', managed: false }
    ],
    ...overrides
  }
}

const ow = (id: string, allow: bigint, deny: bigint): OverwriteFacts => ({ id, allow: allow.toString(), deny: deny.toString() })

describe('computeChannelPermissions (docs: compute_overwrites)', () => {
  it('applies @everyone, then the member\'s roles together, then the member\'s own overwrite', () => {
    const f = facts(VIEW | SEND)
    // @everyone denies View, a role of the bot allows it back: roles come after @everyone.
    expect(computeChannelPermissions(f, [ow(GUILD, 0n, VIEW), ow(BOT_ROLE, VIEW, 0n)]) & VIEW).toBe(VIEW)
    // The bot's own overwrite comes last and wins over its roles.
    expect(computeChannelPermissions(f, [ow(BOT_ROLE, VIEW, 0n), ow(BOT, 0n, VIEW)]) & VIEW).toBe(0n)
    // Role overwrites combine: one role's allow beats another role's deny ("regardless of the role positions").
    const two = facts(VIEW | SEND, 0n, { member_role_ids: [BOT_ROLE, OTHER_ROLE] })
    expect(computeChannelPermissions(two, [ow(BOT_ROLE, 0n, SEND), ow(OTHER_ROLE, SEND, 0n)]) & SEND).toBe(SEND)
    // An overwrite for a role the bot does not have changes nothing.
    expect(computeChannelPermissions(f, [ow(OTHER_ROLE, 0n, VIEW | SEND)])).toBe(VIEW | SEND)
  })

  it('Administrator (or ownership) ignores every overwrite', () => {
    const admin = facts(Permission.ADMINISTRATOR)
    expect(computeChannelPermissions(admin, [ow(GUILD, 0n, VIEW), ow(BOT, 0n, SEND)])).toBe(ALL_PERMISSIONS)
    const owner = facts(0n, 0n, { owner_id: BOT })
    expect(computeChannelPermissions(owner, [ow(BOT, 0n, VIEW | SEND)])).toBe(ALL_PERMISSIONS)
  })

  it('agrees with the simulator\'s independent implementation on random overwrites', () => {
    const bits = fc.constantFrom(0n, VIEW, SEND, VIEW | SEND, Permission.ADMINISTRATOR)
    const target = fc.constantFrom(GUILD, BOT_ROLE, OTHER_ROLE, BOT)
    fc.assert(fc.property(bits, bits, fc.array(fc.record({ id: target, allow: bits, deny: bits }), { maxLength: 4 }), fc.boolean(), (botRole, everyone, raw, withOther) => {
      // One overwrite per id, as Discord keeps them.
      const overwrites = [...new Map(raw.map((o) => [o.id, o])).values()]
      const f = facts(botRole, everyone, { member_role_ids: withOther ? [BOT_ROLE, OTHER_ROLE] : [BOT_ROLE] })
      const base = computeBasePermissions(f)
      const simOverwrites = overwrites.map((o) => ({ id: o.id, type: o.id === BOT ? 1 as const : 0 as const, allow: o.allow.toString(), deny: o.deny.toString() }))
      const expected = simulator.computeChannelPermissions(base, GUILD, BOT, f.member_role_ids, simOverwrites)
      expect(computeChannelPermissions(f, overwrites.map((o) => ow(o.id, o.allow, o.deny)))).toBe(expected)
    }), { numRuns: 300 })
  })
})

describe('checkPostableChannel', () => {
  const text = (id: string, extra: Partial<ChannelFacts> = {}): ChannelFacts => ({ id, type: 0, name: `c${id.slice(-2)}`, permission_overwrites: [], ...extra })

  it('accepts a text or announcement channel the bot can see and post in', () => {
    for (const type of [0, 5]) {
      expect(checkPostableChannel(facts(), [text('500000000000000001', { type })], '500000000000000001', 'settings.audit_channel_id').denial).toBeNull()
    }
  })

  it('accepts a private channel the bot\'s role is let into', () => {
    const channel = text('500000000000000001', { permission_overwrites: [ow(GUILD, 0n, VIEW), ow(BOT_ROLE, VIEW, 0n)] })
    expect(checkPostableChannel(facts(), [channel], channel.id, 'x').denial).toBeNull()
  })

  it.each([
    ['channel_not_found', [] as ChannelFacts[], /settings.audit_channel_id: channel 500000000000000001 is not a channel of guild 123456789012345678/],
    ['channel_not_text', [text('500000000000000001', { type: 2, name: 'Lobby' })], /"#Lobby" \(500000000000000001\) is a voice channel/],
    ['channel_not_text', [text('500000000000000001', { type: 4 })], /is a category channel/],
    ['channel_not_text', [text('500000000000000001', { type: 15 })], /is a forum channel/],
    ['channel_not_text', [text('500000000000000001', { type: 99 })], /is a type 99 channel/],
    ['channel_not_text', [text('500000000000000001', { type: '0' })], /is a type 0 channel/],
    ['channel_no_view', [text('500000000000000001', { permission_overwrites: [ow(GUILD, 0n, VIEW)] })], /cannot see channel .*View Channels/],
    ['channel_no_send', [text('500000000000000001', { permission_overwrites: [ow(BOT_ROLE, 0n, SEND)] })], /cannot post in channel .*Send Messages/]
  ])('refuses with %s', (denial, channels, message) => {
    const v = checkPostableChannel(facts(), channels, '500000000000000001', 'settings.audit_channel_id')
    expect(v.denial).toBe(denial)
    expect(v.message).toMatch(message)
  })

  it('a bot without View Channels or Send Messages in the guild is refused even without overwrites', () => {
    expect(checkPostableChannel(facts(SEND | Permission.MANAGE_ROLES), [text('500000000000000001')], '500000000000000001', 'x').denial).toBe('channel_no_view')
    expect(checkPostableChannel(facts(VIEW | Permission.MANAGE_ROLES), [text('500000000000000001')], '500000000000000001', 'x').denial).toBe('channel_no_send')
    // ... unless @everyone grants them.
    expect(checkPostableChannel(facts(Permission.MANAGE_ROLES, VIEW | SEND), [text('500000000000000001')], '500000000000000001', 'x').denial).toBeNull()
  })

  it('ignores malformed overwrite entries instead of failing', () => {
    const channel = text('500000000000000001', { permission_overwrites: [null, { id: GUILD }, 'x', ow(BOT_ROLE, 0n, SEND)] })
    expect(checkPostableChannel(facts(), [channel], channel.id, 'x').denial).toBe('channel_no_send')
    expect(checkPostableChannel(facts(), [text('500000000000000001', { permission_overwrites: 'nope' })], '500000000000000001', 'x').denial).toBeNull()
  })
})
