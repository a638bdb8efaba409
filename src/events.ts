import type { FastifyBaseLogger } from 'fastify'
import type { OAuthFlow } from './store/port/index.js'

/*
 * The plugin's typed event bus. Modules announce what happened (an account was linked, tokens
 * were refreshed, a run finished) and others react by subscribing in src/plugin.ts, so no module
 * has to know who listens and nothing wraps another object's methods. Hosts subscribe through
 * `fastify.discord.events`.
 *
 * Delivery is synchronous and in subscription order, right after the fact is stored. A listener
 * never affects the emitter: a throw or a rejected promise is logged and the other listeners
 * still run, because an unlink that succeeded must not be reported as failed because a
 * subscriber (metrics, a host hook) broke.
 */

/** A Discord account was linked (login or link flow) and its tokens stored. */
export interface AccountLinkedEvent {
  flow: OAuthFlow
  /** The host's user id the account belongs to. */
  user_id: string
  discord_user_id: string
}

/** A login or link flow failed; `code` is the stable FST_DISCORD_ code (or 'error'). */
export interface OAuthFailedEvent {
  /** 'callback' for GET /auth/callback, 'link' for POST /auth/link with code and state. */
  flow: 'callback' | 'link'
  code: string
}

/** A Discord account was unlinked: its tokens and link are deleted. */
export interface AccountUnlinkedEvent {
  user_id: string
  discord_user_id: string
  /** Who asked: `unlink:<host user id>`. */
  initiated_by: string
  /** The removal run queued for the guilds known to hold the member, if any. */
  role_removal: { queued: boolean, sync_run_id: string | null, guild_ids: string[] }
}

/** One run of the token refresh task ended (completed, skipped or failed). */
export interface TokensRefreshedEvent {
  status: 'completed' | 'skipped' | 'failed'
  reason: string | null
  candidates: number
  refreshed: number
  reauth_required: number
  failed: number
  skipped: number
}

/** A sync run (guild, user, manual or unlink removal) reached a final status. */
export interface SyncFinishedEvent {
  run_id: string
  sync_type: string
  target_id: string | null
  status: string
  dry_run: boolean
  initiated_by: string
}

/** A member joined a configured guild (emitted by the live module, issue #13). */
export interface MemberJoinedEvent {
  guild_id: string
  discord_user_id: string
}

/** A member's roles or nickname changed in Discord (live module, issue #13). */
export interface MemberChangedEvent {
  guild_id: string
  discord_user_id: string
  role_ids: string[]
}

/** A user lost access: unlinked, deauthorised or no longer entitled (issue #14). */
export interface AccessLostEvent {
  discord_user_id: string
  reason: 'unlinked' | 'deauthorized' | 'not_entitled'
}

export interface GatewayStateEvent {
  /** A digest naming the bot token's connection (never the token). */
  connection: string
  status: 'connecting' | 'connected' | 'disconnected' | 'failed'
  resumes: number
  error: string | null
}

/** Every event the plugin emits, by name. */
export interface DiscordSyncEventMap {
  'account.linked': AccountLinkedEvent
  'account.unlinked': AccountUnlinkedEvent
  'oauth.failed': OAuthFailedEvent
  'tokens.refreshed': TokensRefreshedEvent
  'sync.finished': SyncFinishedEvent
  'member.joined': MemberJoinedEvent
  'member.changed': MemberChangedEvent
  'access.lost': AccessLostEvent
  /** A Gateway connection connected, resumed, closed or failed for good. */
  'gateway.state': GatewayStateEvent
}

export type DiscordSyncEventName = keyof DiscordSyncEventMap
export type DiscordSyncListener<E extends DiscordSyncEventName> = (event: Readonly<DiscordSyncEventMap[E]>) => void | Promise<void>

/** `fastify.discord.events`: subscribe to what the plugin does. */
export class DiscordSyncEvents {
  readonly #listeners = new Map<DiscordSyncEventName, Array<DiscordSyncListener<never>>>()
  readonly #log: FastifyBaseLogger

  constructor (log: FastifyBaseLogger) {
    this.#log = log
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<E extends DiscordSyncEventName> (name: E, listener: DiscordSyncListener<E>): () => void {
    const list = this.#listeners.get(name) ?? []
    list.push(listener as DiscordSyncListener<never>)
    this.#listeners.set(name, list)
    return () => this.off(name, listener)
  }

  off<E extends DiscordSyncEventName> (name: E, listener: DiscordSyncListener<E>): void {
    const list = this.#listeners.get(name)
    if (list === undefined) return
    const i = list.indexOf(listener as DiscordSyncListener<never>)
    if (i !== -1) list.splice(i, 1)
  }

  /**
   * The next event of this name that matches `accept`. For hosts and tests that need to wait for
   * something to happen instead of polling or sleeping.
   */
  next<E extends DiscordSyncEventName> (name: E, accept: (event: Readonly<DiscordSyncEventMap[E]>) => boolean = () => true): Promise<Readonly<DiscordSyncEventMap[E]>> {
    return new Promise((resolve) => {
      const stop = this.on(name, (event) => {
        if (!accept(event)) return
        stop()
        resolve(event)
      })
    })
  }

  /** Delivers to every listener; never throws and never waits for async listeners. */
  emit<E extends DiscordSyncEventName> (name: E, event: DiscordSyncEventMap[E]): void {
    const list = this.#listeners.get(name)
    if (list === undefined || list.length === 0) return
    const frozen = Object.freeze({ ...event }) as Readonly<DiscordSyncEventMap[E]>
    // A copy: a listener that unsubscribes (next()) must not make the loop skip its neighbour.
    for (const listener of [...list]) {
      try {
        const result = (listener as DiscordSyncListener<E>)(frozen)
        if (result instanceof Promise) result.catch((err: unknown) => this.#failed(name, err))
      } catch (err) {
        this.#failed(name, err)
      }
    }
  }

  #failed (name: string, err: unknown): void {
    const { message, code } = (err ?? {}) as { message?: unknown, code?: unknown }
    this.#log.error({ event: name, err: { message, code } }, 'a discord event listener failed')
  }
}
