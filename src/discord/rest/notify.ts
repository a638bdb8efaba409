import type { EventEmitter } from 'node:events'
import type { DiscordRestEvents } from '../events.js'
import type { DiscordRestLogger } from '../options.js'

/** Emits one of the client's events. */
export type Notify = <K extends keyof DiscordRestEvents>(event: K, ...args: DiscordRestEvents[K]) => void

/** Emits on `events`; a listener that throws is logged, never allowed to fail the Discord call. */
export function notifier (events: EventEmitter<DiscordRestEvents>, logger: DiscordRestLogger | undefined): Notify {
  return (event, ...args) => {
    try {
      (events.emit as (name: string, ...payload: unknown[]) => boolean).call(events, event, ...args)
    } catch (err) {
      logger?.error?.({ event, error: (err as Error)?.message }, 'A DiscordRestClient event listener threw')
    }
  }
}
