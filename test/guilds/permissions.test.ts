import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  ALL_PERMISSIONS,
  checkRoleAssignable,
  computeBasePermissions,
  hasPermission,
  highestRolePosition,
  parsePermissions,
  Permission,
  type BotGuildFacts,
  type GuildRoleFacts
} from '../../src/guilds/permissions.js'
import * as simulator from '../../src/testing/permissions.js'

const GUILD = '123456789012345678'
const BOT = '223456789012345678'
const OWNER = '323456789012345678'
const MANAGE_ROLES = Permission.MANAGE_ROLES.toString()

function role (id: string, position: number, permissions = '0', managed = false): GuildRoleFacts {
  return { id, name: `role-${id.slice(-3)}`, position, permissions, managed }
}

function facts (overrides: Partial<BotGuildFacts> = {}): BotGuildFacts {
  return {
    guild_id: GUILD,
    owner_id: OWNER,
    bot_user_id: BOT,
    member_role_ids: ['400000000000000001'],
    roles: [
      role(GUILD, 0, '1024'), // @everyone: View Channels
      role('400000000000000001', 5, MANAGE_ROLES), // the bot's role
      role('400000000000000002', 3), // assignable
      role('400000000000000003', 7), // above the bot
      role('400000000000000004', 2, '0', true) // managed
    ],
    ...overrides
  }
}

describe('parsePermissions', () => {
  it('reads Discord decimal strings, including bits above 2^53', () => {
    expect(parsePermissions('2147483647')).toBe(2147483647n)
    expect(parsePermissions((1n << 52n).toString())).toBe(1n << 52n)
    expect(parsePermissions('0')).toBe(0n)
  })

  it('treats malformed values as no permission at all (never grants by accident)', () => {
    for (const bad of ['', '-8', '0x10000000', '1e9', ' 8', 'abc', null, undefined]) {
      expect(parsePermissions(bad as string)).toBe(0n)
    }
  })
})

describe('computeBasePermissions (docs: compute_base_permissions)', () => {
  it('gives the guild owner every permission, whatever its roles', () => {
    const f = facts({ owner_id: BOT, member_role_ids: [] })
    expect(computeBasePermissions(f)).toBe(ALL_PERMISSIONS)
  })

  it('ALL is exactly bits 0-46 and 48-52 from the docs table', () => {
    for (let bit = 0n; bit <= 52n; bit++) expect(hasPermission(ALL_PERMISSIONS, 1n << bit)).toBe(bit !== 47n)
    expect(ALL_PERMISSIONS >> 53n).toBe(0n)
  })

  it('starts from @everyone (the role whose id is the guild id) and ORs each member role', () => {
    const f = facts({
      member_role_ids: ['400000000000000001', '400000000000000002'],
      roles: [role(GUILD, 0, '1024'), role('400000000000000001', 5, MANAGE_ROLES), role('400000000000000002', 3, '2048')]
    })
    expect(computeBasePermissions(f)).toBe(1024n | Permission.MANAGE_ROLES | 2048n)
  })

  it('a member with no roles has exactly the @everyone permissions', () => {
    expect(computeBasePermissions(facts({ member_role_ids: [] }))).toBe(1024n)
  })

  it('ADMINISTRATOR on any role, or on @everyone, means every permission', () => {
    const viaRole = facts({ roles: [role(GUILD, 0, '0'), role('400000000000000001', 5, Permission.ADMINISTRATOR.toString())] })
    expect(computeBasePermissions(viaRole)).toBe(ALL_PERMISSIONS)
    const viaEveryone = facts({ member_role_ids: [], roles: [role(GUILD, 0, '8')] })
    expect(computeBasePermissions(viaEveryone)).toBe(ALL_PERMISSIONS)
  })

  it('ignores member role ids the role list does not have (deleted meanwhile)', () => {
    const f = facts({ member_role_ids: ['499999999999999999'] })
    expect(computeBasePermissions(f)).toBe(1024n)
  })

  it('agrees with the simulator\'s independent implementation on random guilds', () => {
    const roleArb = fc.record({
      position: fc.integer({ min: 0, max: 50 }),
      permissions: fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }),
      managed: fc.boolean()
    })
    fc.assert(fc.property(
      fc.array(roleArb, { maxLength: 8 }),
      fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }),
      fc.array(fc.nat({ max: 9 }), { maxLength: 6 }),
      fc.boolean(),
      (rolesIn, everyone, picks, isOwner) => {
        const roles = [role(GUILD, 0, everyone.toString()), ...rolesIn.map((r, i) => role(`5000000000000000${10 + i}`, r.position, r.permissions.toString(), r.managed))]
        const memberRoles = [...new Set(picks.map((p) => `5000000000000000${10 + p}`))]
        const f = facts({ roles, member_role_ids: memberRoles, owner_id: isOwner ? BOT : OWNER })
        const simRoles = new Map(roles.map((r) => [r.id, r]))
        const expected = simulator.computeBasePermissions({ id: GUILD, owner_id: f.owner_id }, BOT, memberRoles, simRoles)
        expect(computeBasePermissions(f)).toBe(expected)
        expect(highestRolePosition(f)).toBe(simulator.highestPosition(memberRoles, simRoles))
      }
    ), { numRuns: 300 })
  })

  it('adding a role never removes a permission (monotone, over the bits Discord assigns)', () => {
    const bits = fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }).map((v) => v & ALL_PERMISSIONS)
    fc.assert(fc.property(bits, bits, (a, b) => {
      const base = facts({ member_role_ids: ['400000000000000001'], roles: [role(GUILD, 0, '0'), role('400000000000000001', 1, a.toString()), role('400000000000000002', 2, b.toString())] })
      const more = { ...base, member_role_ids: ['400000000000000001', '400000000000000002'] }
      const before = computeBasePermissions(base)
      expect(computeBasePermissions(more) & before).toBe(before)
    }), { numRuns: 200 })
  })
})

describe('highestRolePosition', () => {
  it('is the greatest position among the member\'s roles, 0 with none (@everyone starts at 0)', () => {
    expect(highestRolePosition(facts())).toBe(5)
    expect(highestRolePosition(facts({ member_role_ids: [] }))).toBe(0)
    expect(highestRolePosition(facts({ member_role_ids: ['400000000000000002', '400000000000000003'] }))).toBe(7)
  })
})

describe('checkRoleAssignable', () => {
  it('accepts a plain role below the bot\'s highest role', () => {
    const v = checkRoleAssignable(facts(), '400000000000000002')
    expect(v.denial).toBeNull()
    expect(v.role?.id).toBe('400000000000000002')
  })

  it.each([
    ['role_not_found', '499999999999999999', /does not exist/],
    ['everyone_role', GUILD, /@everyone/],
    ['managed_role', '400000000000000004', /managed by an integration/],
    ['role_not_below_bot', '400000000000000003', /not below the bot's highest role \(position 5\)/],
    ['role_not_below_bot', '400000000000000001', /position 5\) is not below/]
  ])('refuses with %s for role %s', (denial, roleId, message) => {
    const v = checkRoleAssignable(facts(), roleId)
    expect(v.denial).toBe(denial)
    expect(v.message).toMatch(message)
  })

  it('refuses a role at the same position as the bot\'s highest role (strict "lower position")', () => {
    const f = facts({ roles: [...facts().roles, role('400000000000000009', 5)] })
    expect(checkRoleAssignable(f, '400000000000000009').denial).toBe('role_not_below_bot')
  })

  it('refuses everything assignable when the bot lacks Manage Roles, naming the permission', () => {
    const f = facts({ roles: facts().roles.map((r) => r.id === '400000000000000001' ? { ...r, permissions: '0' } : r) })
    const v = checkRoleAssignable(f, '400000000000000002')
    expect(v.denial).toBe('missing_manage_roles')
    expect(v.message).toContain('Manage Roles')
  })

  it('Administrator implies Manage Roles', () => {
    const f = facts({ roles: facts().roles.map((r) => r.id === '400000000000000001' ? { ...r, permissions: '8' } : r) })
    expect(checkRoleAssignable(f, '400000000000000002').denial).toBeNull()
  })

  it('Administrator does not lift the hierarchy: roles at or above the bot\'s highest role stay refused', () => {
    const f = facts({ roles: [...facts().roles.map((r) => r.id === '400000000000000001' ? { ...r, permissions: '8' } : r), role('400000000000000009', 5)] })
    expect(checkRoleAssignable(f, '400000000000000003').denial).toBe('role_not_below_bot')
    expect(checkRoleAssignable(f, '400000000000000009').denial).toBe('role_not_below_bot')
    expect(checkRoleAssignable(f, '400000000000000004').denial).toBe('managed_role')
  })

  it('Manage Roles granted through @everyone counts like any other role\'s', () => {
    const f = facts({ roles: facts().roles.map((r) => r.id === GUILD ? { ...r, permissions: MANAGE_ROLES } : r.id === '400000000000000001' ? { ...r, permissions: '0' } : r) })
    expect(checkRoleAssignable(f, '400000000000000002').denial).toBeNull()
  })

  it('the highest of several bot roles decides, whatever their order on the member', () => {
    const roles = [...facts().roles, role('400000000000000008', 8), role('400000000000000007', 9)]
    for (const member_role_ids of [['400000000000000001', '400000000000000008'], ['400000000000000008', '400000000000000001']]) {
      const f = facts({ roles, member_role_ids })
      expect(highestRolePosition(f)).toBe(8)
      // Manage Roles comes from the lower role (5); the position from the higher one (8).
      expect(checkRoleAssignable(f, '400000000000000003').denial).toBeNull()
      expect(checkRoleAssignable(f, '400000000000000007').denial).toBe('role_not_below_bot')
      expect(checkRoleAssignable(f, '400000000000000001').denial).toBeNull()
      expect(checkRoleAssignable(f, '400000000000000008').denial).toBe('role_not_below_bot')
    }
  })

  it('a tie at the bot\'s highest position is refused whichever role has the lower id', () => {
    // The docs order ties by id without saying which way; both orders must be refused.
    for (const tieId of ['300000000000000001', '500000000000000001']) {
      const f = facts({ roles: [...facts().roles, role(tieId, 5)] })
      expect(checkRoleAssignable(f, tieId).denial).toBe('role_not_below_bot')
    }
  })

  it('the owner bot is above every role but still cannot assign managed roles or @everyone', () => {
    const f = facts({ owner_id: BOT, member_role_ids: [] })
    expect(checkRoleAssignable(f, '400000000000000003').denial).toBeNull()
    expect(checkRoleAssignable(f, '400000000000000004').denial).toBe('managed_role')
    expect(checkRoleAssignable(f, GUILD).denial).toBe('everyone_role')
  })

  it('agrees with the simulator about which roles a bot may grant (owner, Administrator, @everyone, ties included)', () => {
    // Permissions a role may carry: none, Manage Roles, Administrator, or something unrelated.
    const perms = fc.constantFrom('0', MANAGE_ROLES, Permission.ADMINISTRATOR.toString(), '1024')
    fc.assert(fc.property(
      fc.array(fc.record({ position: fc.integer({ min: 1, max: 8 }), permissions: perms, managed: fc.boolean() }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat({ max: 5 }), { maxLength: 3 }),
      fc.nat({ max: 5 }),
      perms,
      fc.boolean(),
      (rolesIn, picks, target, everyone, isOwner) => {
        const roles = [role(GUILD, 0, everyone), ...rolesIn.map((r, i) => role(`6000000000000000${10 + i}`, r.position, r.permissions, r.managed))]
        const memberRoles = [...new Set(picks.filter((p) => p < rolesIn.length).map((p) => `6000000000000000${10 + p}`))]
        const targetId = `6000000000000000${10 + Math.min(target, rolesIn.length - 1)}`
        const owner = isOwner ? BOT : OWNER
        const f = facts({ roles, member_role_ids: memberRoles, owner_id: owner })
        const simRoles = new Map(roles.map((r) => [r.id, r]))
        const simDenial = simulator.roleEditDenial({ id: GUILD, owner_id: owner }, BOT, memberRoles, simRoles.get(targetId) as GuildRoleFacts, simRoles)
        const ours = checkRoleAssignable(f, targetId).denial
        // Same yes/no answer; the order of reasons differs (we report managed before a missing permission).
        expect(ours === null).toBe(simDenial === null)
      }
    ), { numRuns: 300 })
  })
})
