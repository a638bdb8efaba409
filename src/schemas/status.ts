import { Type } from '@sinclair/typebox'
import type { StoreStats } from '../store/port/index.js'

const StoreTable = Type.Object({
  name: Type.String({ description: 'Table (SQLite) or collection (MongoDB) name' }),
  aggregate: Type.String({ description: 'What it stores: accounts, account_guilds, guilds, mappings, sync_runs, audit, task_runs, oauth_states, leases, access_loss, sync_runs_version' }),
  rows: Type.Integer({ description: 'Rows or documents it holds now' })
})

/** Admins only: how large the store is, so growth is visible (docs/operations.md says what bounds each table). */
export const StoreUsage = Type.Union([
  Type.Object({
    kind: Type.String({ description: "The store's backend: sqlite or mongodb" }),
    bytes: Type.Union([Type.Integer(), Type.Null()], {
      description: 'SQLite: page_count × page_size plus the WAL file; MongoDB: dbStats storageSize + indexSize of the whole database; null when the backend would not say'
    }),
    tables: Type.Array(StoreTable)
  }),
  Type.Null()
], { description: 'Admins only (absent for everyone else): store size and rows per table; null when the store is unreachable, slow, or does not implement stats()' })

/** Admins only: where background work runs and, with BullMQ, the shared queue. */
export const JobsView = Type.Object({
  backend: Type.Union([Type.Literal('local'), Type.Literal('bullmq')], { description: 'jobs.backend' }),
  role: Type.Union([Type.Literal('all'), Type.Literal('api'), Type.Literal('worker')], { description: "jobs.role: what this process does ('api' only enqueues)" }),
  queue: Type.Union([
    Type.Object({
      waiting: Type.Integer({ description: 'Jobs waiting for a worker' }),
      active: Type.Integer({ description: 'Jobs a worker is running' }),
      delayed: Type.Integer({ description: 'Jobs waiting out a retry backoff' }),
      failed: Type.Integer({ description: 'Jobs kept after their last attempt failed' }),
      oldest_waiting_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'How long the oldest waiting job has waited (the queue latency); null when none waits' })
    }),
    Type.Null()
  ], { description: 'The shared BullMQ queue; null with the local backend, or when Redis did not answer in time' })
}, { description: 'Admins only (absent for everyone else): the job backend and its queue' })

export const HealthResponse = Type.Object({
  module: Type.Literal('discord'),
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')]),
  message: Type.String(),
  checks: Type.Object({
    store: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
    redis: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('not_configured')]),
    discord: Type.Union([Type.Literal('configured'), Type.Literal('not_configured')])
  }),
  gateway: Type.Optional(Type.Object({
    leader: Type.Boolean({ description: 'This instance holds the Gateway connections (one instance does across a Redis-sharing cluster)' }),
    connections: Type.Integer({ description: 'Bot tokens with a connection held by this instance' }),
    connected: Type.Integer({ description: 'Of those, connected now' }),
    resumes: Type.Integer({ description: 'Sessions resumed after drops, summed over connections' })
  }, { description: 'The live Gateway; absent when it is off' })),
  store: Type.Optional(StoreUsage),
  jobs: Type.Optional(JobsView)
})

/** The store's figures as GET /status shows them to admins. */
export function presentStoreUsage (kind: string, stats: StoreStats | null): { kind: string, bytes: number | null, tables: StoreStats['tables'] } | null {
  return stats === null ? null : { kind, bytes: stats.bytes, tables: stats.tables }
}
