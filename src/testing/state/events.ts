import type { SimMember, SimRole } from './types.js'

/*
 * What changed in the world, announced by the stores at the one place each change happens, so
 * the Gateway (and anything else a test attaches) hears REST writes and test seeding alike.
 * Listeners run synchronously, while the change is fresh: a listener that needs a snapshot
 * (an API payload) takes it at once.
 */

/** Every change the stores announce, by name. */
export interface StateEventMap {
  /** A user became a member (`replaced`: addMember over an existing member). */
  memberAdd: { guildId: string, member: SimMember, replaced: boolean }
  /** A member's roles or nickname changed. */
  memberUpdate: { guildId: string, member: SimMember }
  memberRemove: { guildId: string, userId: string }
  roleCreate: { guildId: string, role: SimRole }
  roleUpdate: { guildId: string, role: SimRole }
  roleDelete: { guildId: string, roleId: string }
}

export type StateEventName = keyof StateEventMap
export type StateListener<K extends StateEventName> = (event: StateEventMap[K]) => void

/** A small typed emitter: `on` returns the function that removes the listener. */
export class StateEvents {
  // One set per event name; the public methods keep each set's listeners matched to their name.
  readonly #listeners = new Map<StateEventName, Set<(event: never) => void>>()

  on<K extends StateEventName> (name: K, listener: StateListener<K>): () => void {
    let set = this.#listeners.get(name)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(name, set)
    }
    const listeners = set
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }

  emit<K extends StateEventName> (name: K, event: StateEventMap[K]): void {
    const set = this.#listeners.get(name) as Set<StateListener<K>> | undefined
    if (set === undefined) return
    for (const listener of [...set]) listener(event)
  }
}
