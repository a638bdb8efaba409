/*
 * Prometheus metrics (prom-client). By default the plugin keeps its own registry, so two
 * plugin instances in one process (tests, multi-tenant hosts) never collide and the host's
 * default registry stays untouched; a host that wants one scrape endpoint passes its registry.
 * Labels are low-cardinality by construction: route templates (never concrete ids), statuses,
 * error codes, scopes.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { promClient } from '../util/prom-client.js'
import type { DiscordRestClient } from '../discord/client.js'
import type { AuditAction, AuditOutcome, SyncRunStatus, SyncType } from '../store/port/index.js'

export interface SyncMetricsOptions {
  registry?: Registry | null
  /** Prefix of every metric name. */
  prefix: string
}

export class SyncMetrics {
  readonly registry: Registry
  readonly #runs: Counter<'sync_type' | 'status'>
  readonly #changes: Counter<'action' | 'outcome'>
  readonly #requests: Counter<'method' | 'route' | 'status'>
  readonly #rateLimited: Counter<'scope'>
  readonly #oauth: Counter<'flow' | 'outcome'>
  readonly #tokenRefresh: Counter<'outcome'>
  readonly #gatewayEvents: Counter<'type' | 'outcome'>
  readonly #drift: Counter<'policy'>
  readonly #roleConnections: Counter<'operation' | 'outcome'>
  readonly #duration: Histogram<'sync_type'>
  readonly #inProgress: Gauge
  readonly #prefix: string

  constructor (options: SyncMetricsOptions) {
    this.registry = options.registry ?? new promClient.Registry()
    const registers = [this.registry]
    const p = options.prefix
    this.#prefix = p
    this.#runs = new promClient.Counter({ name: `${p}runs_total`, help: 'Sync runs finished, by type and final status', labelNames: ['sync_type', 'status'], registers })
    this.#changes = new promClient.Counter({ name: `${p}role_changes_total`, help: 'Role changes by action (add/remove) and outcome (applied, failed, dry_run, blocked, skipped)', labelNames: ['action', 'outcome'], registers })
    this.#requests = new promClient.Counter({ name: `${p}discord_requests_total`, help: 'Discord API answers by method, route template and HTTP status', labelNames: ['method', 'route', 'status'], registers })
    this.#rateLimited = new promClient.Counter({ name: `${p}discord_rate_limited_total`, help: 'Discord 429 answers by X-RateLimit-Scope (user, global, shared)', labelNames: ['scope'], registers })
    this.#oauth = new promClient.Counter({ name: `${p}oauth_total`, help: 'OAuth2 callbacks by flow (login/link) and outcome (success or error code)', labelNames: ['flow', 'outcome'], registers })
    this.#tokenRefresh = new promClient.Counter({ name: `${p}token_refresh_total`, help: 'Access-token refresh outcomes per link (refreshed, reauth_required, failed, skipped) and skipped runs (run_skipped)', labelNames: ['outcome'], registers })
    this.#duration = new promClient.Histogram({ name: `${p}run_duration_seconds`, help: 'Duration of finished sync runs', labelNames: ['sync_type'], buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 10800], registers })
    this.#gatewayEvents = new promClient.Counter({ name: `${p}gateway_events_total`, help: 'Gateway dispatches handled, by type and outcome (handled, echo, ignored, invalid)', labelNames: ['type', 'outcome'], registers })
    this.#drift = new promClient.Counter({ name: `${p}drift_total`, help: 'Managed roles changed by hand in Discord, by the guild drift_policy applied (revert, report)', labelNames: ['policy'], registers })
    this.#roleConnections = new promClient.Counter({ name: `${p}role_connection_pushes_total`, help: 'Linked Roles: users\' role connections by operation (update, delete) and outcome (updated, unchanged, deleted, no_token, failed)', labelNames: ['operation', 'outcome'], registers })
    this.#inProgress = new promClient.Gauge({ name: `${p}runs_in_progress`, help: 'Sync runs executing in this instance', registers })
  }

  runStarted (): void {
    this.#inProgress.inc()
  }

  runFinished (syncType: SyncType, status: SyncRunStatus, seconds: number): void {
    this.#inProgress.dec()
    this.#runs.inc({ sync_type: syncType, status })
    this.#duration.observe({ sync_type: syncType }, seconds)
  }

  roleChange (action: AuditAction, outcome: AuditOutcome, n = 1): void {
    this.#changes.inc({ action, outcome }, n)
  }

  oauth (flow: string, outcome: string): void {
    this.#oauth.inc({ flow, outcome })
  }

  gatewayEvent (type: string, outcome: 'handled' | 'echo' | 'ignored' | 'invalid'): void {
    this.#gatewayEvents.inc({ type, outcome })
  }

  drift (policy: string): void {
    this.#drift.inc({ policy })
  }

  /** One user's role connection (Linked Roles) written, found unchanged, skipped or refused. */
  roleConnection (operation: 'update' | 'delete', outcome: string): void {
    this.#roleConnections.inc({ operation, outcome })
  }

  tokenRefresh (outcome: string, n = 1): void {
    if (n > 0) this.#tokenRefresh.inc({ outcome }, n)
  }

  /** Counts every Discord answer and 429 the client sees (its events carry templates, never tokens). */
  observeClient (client: DiscordRestClient): () => void {
    const onResponse = (e: { method: string, route: string, status: number }): void => {
      this.#requests.inc({ method: e.method, route: e.route, status: String(e.status) })
    }
    const onRateLimited = (e: { scope: string }): void => {
      this.#rateLimited.inc({ scope: e.scope })
    }
    client.on('response', onResponse)
    client.on('rateLimited', onRateLimited)
    return () => {
      client.off('response', onResponse)
      client.off('rateLimited', onRateLimited)
    }
  }

  /** The read cache's size and reads, taken from `stats` at each scrape. */
  observeReadCache (stats: () => { pages: number, chars: number, hits: number, misses: number }): void {
    // Registered here (not through `registers`): nothing else holds them, the registry reads them at each scrape.
    const registers: Registry[] = []
    const p = this.#prefix
    this.registry.registerMetric(new promClient.Gauge({ name: `${p}read_cache_pages`, help: 'Rendered admin list pages the read cache keeps', registers, collect () { this.set(stats().pages) } }))
    this.registry.registerMetric(new promClient.Gauge({ name: `${p}read_cache_chars`, help: 'Characters of rendered JSON the read cache keeps (its memory, roughly)', registers, collect () { this.set(stats().chars) } }))
    this.registry.registerMetric(new promClient.Counter({
      name: `${p}read_cache_reads_total`,
      help: 'Reads of cached routes by result: hit (answered from a kept page) or miss (built)',
      labelNames: ['result'],
      registers,
      collect () {
        const s = stats()
        this.reset()
        this.inc({ result: 'hit' }, s.hits)
        this.inc({ result: 'miss' }, s.misses)
      }
    }))
  }

  async render (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
