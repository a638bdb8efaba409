import { describe, expect, it } from 'vitest'
import { DEFAULT_OPTIONS, resolveOptions } from '../../src/options/index.js'
import { parseDuration } from '../../src/util/duration.js'
import { TEST_KEY } from '../helpers/world.js'

const ms = (d: string): number => parseDuration(d) as number

describe('DEFAULT_OPTIONS (read from the schemas)', () => {
  it('is what an empty registration resolves to', () => {
    const r = resolveOptions({ encryptionKey: TEST_KEY })
    const d = DEFAULT_OPTIONS
    const { sessionExpiry, stateRateLimit, ...auth } = d.auth
    expect(r).toMatchObject({
      routePrefix: d.routePrefix,
      store: { type: 'sqlite', path: d.sqlitePath },
      redisKeyPrefix: d.redisKeyPrefix,
      apiBaseUrl: d.apiBaseUrl,
      stateExpiryMs: ms(d.stateExpiry),
      tokenRefreshThresholdMs: ms(d.tokenRefreshThreshold),
      syncIntervalMs: ms(d.syncInterval),
      auth: { ...auth, sessionExpiryMs: ms(sessionExpiry), stateRateLimit: { max: stateRateLimit.max, timeWindowMs: ms(stateRateLimit.timeWindow) } },
      tokenRefresh: { enabled: d.tokenRefresh.enabled, batchSize: d.tokenRefresh.batchSize, concurrency: d.tokenRefresh.concurrency, intervalMs: ms(d.tokenRefresh.interval), lockTtlMs: ms(d.tokenRefresh.lockTtl), retentionMs: ms(d.tokenRefresh.retention) },
      healthCheck: { enabled: d.healthCheck.enabled, intervalMs: ms(d.healthCheck.interval), lockTtlMs: ms(d.healthCheck.lockTtl) },
      rateLimit: { max: d.rateLimit.max, timeWindowMs: ms(d.rateLimit.timeWindow) },
      openapi: d.openapi,
      sync: { enabled: d.sync.enabled, workers: d.sync.workers, guildConcurrency: undefined, heartbeatMs: ms(d.sync.heartbeatInterval), lockTtlMs: ms(d.sync.lockTtl), waitTimeoutMs: ms(d.sync.waitTimeout) },
      metrics: d.metrics,
      adminUi: d.adminUi
    })
    const discord = resolveOptions({ encryptionKey: TEST_KEY, discord: { clientId: '123456789012345678', clientSecret: 's', redirectUri: 'https://a.test/cb' } }).discord
    expect(discord).toMatchObject({ scopes: d.scopes, authorizeUrl: d.authorizeUrl })
  })

  it('is frozen, groups included, and a change to a copy leaves the defaults alone', () => {
    expect(Object.isFrozen(DEFAULT_OPTIONS)).toBe(true)
    for (const group of [DEFAULT_OPTIONS.auth, DEFAULT_OPTIONS.tokenRefresh, DEFAULT_OPTIONS.healthCheck, DEFAULT_OPTIONS.rateLimit, DEFAULT_OPTIONS.sync, DEFAULT_OPTIONS.metrics]) {
      expect(Object.isFrozen(group)).toBe(true)
    }
    const scopes = resolveOptions({ encryptionKey: TEST_KEY, discord: { clientId: '123456789012345678', clientSecret: 's', redirectUri: 'https://a.test/cb' } }).discord?.scopes
    scopes?.push('email')
    expect(DEFAULT_OPTIONS.scopes).toEqual(['identify', 'guilds'])
  })
})
