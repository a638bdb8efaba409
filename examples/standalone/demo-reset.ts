import { writeFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { DEMO, DEMO_PEOPLE, DEMO_ROLES, demoMembershipDocument, type DemoInfo } from './demo.js'

/*
 * The demo's reset button (POST /api/discord/demo/reset, admin, demo mode only): the running
 * demo back to its seed without a restart. Discord (the simulator) gets every seeded member's
 * first roles back, the store loses the guild, its mappings, every link, the finished runs and
 * the audit, the membership file is rewritten as shipped, and the store is seeded again. A sync
 * in progress refuses it (409): pulling the guild from under a run would leave half a run.
 */

const FAR_FUTURE = new Date(8.64e15)

export async function resetRunningDemo (app: FastifyInstance, info: DemoInfo, seed: () => Promise<void>): Promise<void> {
  const { store } = app.discord
  const R = DEMO_ROLES
  const s = info.sim.state
  const G = DEMO.guildId
  // Discord first: the seed's roles for every seeded member (200 recruits, 8 strays, the rest none).
  for (const p of DEMO_PEOPLE) s.setMemberRoles(G, p.discordId, p.roles.map((k) => R[k].id))
  info.memberIds.forEach((id, i) => {
    s.setMemberRoles(G, id, i < DEMO.recruits ? [R.recruit.id] : i < DEMO.recruits + DEMO.strayMembers ? [R.member.id] : [])
  })
  // The store: the guild with its mappings, every link, the finished runs and the audit trail.
  if (await store.getGuild(G) !== null) await app.discord.guilds.remove(G)
  for (;;) {
    const page = await store.listUsers({ page: 1, page_size: 100 })
    if (page.items.length === 0) break
    for (const u of page.items) await store.deleteUser(u.discord_user_id)
  }
  await store.clearAccessLost?.(G, [...DEMO_PEOPLE.map((p) => p.discordId), ...info.memberIds])
  await store.pruneSyncRuns(FAR_FUTURE)
  await store.pruneAudit(FAR_FUTURE)
  writeFileSync(info.membershipFile, JSON.stringify(demoMembershipDocument(), null, 2) + '\n')
  await seed()
}
