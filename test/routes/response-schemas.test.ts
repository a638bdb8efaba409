import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { simplifyResponseSchema, simplifyRouteResponses } from '../../src/routes/response-schemas.js'
import { RunList, SyncStatusResponse } from '../../src/schemas/sync.js'

/*
 * Response schemas are rewritten for fast-json-stringify (nullable unions as type arrays, literal
 * unions as enums): the rewrite must leave no union the serialiser would validate against, and
 * every answer must serialise exactly as before.
 */

const run = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'r1',
  sync_type: 'guild',
  target_id: null,
  status: 'completed',
  dry_run: false,
  force: true,
  started_at: '2026-01-01T00:00:00.000Z',
  completed_at: null,
  duration: null,
  heartbeat_at: '2026-01-01T00:00:01.000Z',
  results: {
    users_processed: 1,
    users_synced: 1,
    users_failed: 0,
    roles_added: 2,
    roles_removed: 0,
    guilds_processed: 1,
    errors: [{ user_id: null, discord_user_id: '42', guild_id: null, error: 'x', code: null, occurred_at: '2026-01-01T00:00:02.000Z' }],
    guilds: [{ guild_id: '7', status: 'blocked', members_scanned: 3, members_to_change: 1, members_to_join: 0, planned_changes: 2, blocked_changes: 0, roles_added: 0, roles_removed: 0, members_failed: 0, reason: 'brake' }]
  },
  initiated_by: 'admin',
  created_at: '2026-01-01T00:00:00.000Z',
  progress: null,
  ...over
})

describe('response schemas for serialisation', () => {
  it('leaves no anyOf in the sync responses, and keeps null allowed where it was', () => {
    for (const schema of [SyncStatusResponse, RunList]) {
      expect(JSON.stringify(simplifyResponseSchema(schema))).not.toContain('anyOf')
    }
    const s = simplifyResponseSchema(SyncStatusResponse) as any
    expect(s.properties.last_full_sync.type).toEqual(['string', 'null'])
    expect(s.properties.last_dry_run.type).toEqual(['object', 'null'])
    expect(s.properties.current_runs.items.properties.status).toMatchObject({ type: 'string', enum: ['pending', 'running', 'completed', 'failed', 'blocked'] })
    // The original is untouched (request validation and the OpenAPI types keep using it).
    expect(JSON.stringify(SyncStatusResponse)).toContain('anyOf')
  })

  it('serialises every value as JSON.stringify does, nulls and nested objects included', async () => {
    const app = Fastify()
    app.addHook('onRoute', simplifyRouteResponses)
    const bodies: unknown[] = [
      { runs: [run(), run({ target_id: '7', completed_at: '2026-01-01T00:00:03.000Z', duration: 5, progress: { phase: 'applying', guilds_total: 2, guilds_done: 1, current_guild_id: null, members_scanned: 4, members_to_change: 1, members_applied: 0 } })], next_cursor: null },
      { runs: [], next_cursor: 'abc' }
    ]
    let i = 0
    app.get('/runs', { schema: { response: { 200: RunList } } }, async () => bodies[i++])
    for (const body of bodies) {
      const res = await app.inject({ url: '/runs' })
      expect(res.statusCode).toBe(200)
      expect(res.body).toBe(JSON.stringify(body))
    }
    await app.close()
  })
})
