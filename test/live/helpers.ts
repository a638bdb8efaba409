import type { GatewayStateEvent } from '../../src/events.js'
import { buildSyncWorld, HOST, IDS, type SyncWorld, type SyncWorldOptions } from '../sync/helpers.js'

/*
 * A sync world with the live Gateway on: guild 1 configured with the "pilots" mapping, Alice
 * linked and entitled to it but not yet in the guild. Resolves once the leader's connection is up.
 */
export async function buildLiveWorld (options: SyncWorldOptions & { settings?: Record<string, unknown> } = {}): Promise<SyncWorld> {
  const w = await buildSyncWorld({
    ...options,
    plugin: { ...options.plugin, gateway: { enabled: true, ...options.plugin?.gateway } },
    simulator: { gateway: { heartbeatIntervalMs: 1000 }, ...options.simulator }
  })
  await w.guild(IDS.g1, 'Alpha Guild', options.settings ?? {})
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['pilots'])
  const connected = connectedOnce(w)
  // The guild was configured after start-up: connect now rather than at the next re-read.
  await w.app.discord.gateway?.reconcile()
  await connected
  return w
}

/** The next time a connection reaches `connected` (a fresh session or a resume). */
export function connectedOnce (w: SyncWorld, accept: (e: GatewayStateEvent) => boolean = () => true): Promise<GatewayStateEvent> {
  return w.app.discord.events.next('gateway.state', (e) => e.status === 'connected' && accept(e))
}

/** Resolves with the final record of the next run started by a Gateway event of this kind for this member. */
export function nextLiveRun (w: SyncWorld, kind: 'join' | 'drift', discordUserId: string): Promise<{ run_id: string, status: string, dry_run: boolean }> {
  return w.app.discord.events.next('sync.finished', (e) => e.initiated_by === `${kind}:${discordUserId}`)
}

/** The value of a counter of the plugin's metrics with exactly these labels (0 when never counted). */
export async function metricValue (w: SyncWorld, name: string, labels: Record<string, string>): Promise<number> {
  const registry = w.app.discord.sync.metrics?.registry
  if (registry === undefined) throw new Error('metrics are off in this world')
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
  return value?.value ?? 0
}

/** Gateway dispatches of a type handled with an outcome (handled, echo, ignored, invalid). */
export async function gatewayCount (w: SyncWorld, type: string, outcome: string): Promise<number> {
  return await metricValue(w, 'discord_sync_gateway_events_total', { type, outcome })
}
