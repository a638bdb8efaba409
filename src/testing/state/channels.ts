import { appendBounded } from '../retention.js'
import { requireSnowflake } from './guards.js'
import type { GuildStore } from './guilds.js'
import type { ChannelSeed, SimChannel, SimMessage } from './types.js'

/* Guild channels and the messages bots post in them (the newest `messageLimit`, over all channels). */
export class ChannelStore {
  readonly channels = new Map<string, SimChannel>()
  readonly messages: SimMessage[] = []
  readonly #guilds: GuildStore
  readonly #messageLimit: number

  constructor (guilds: GuildStore, messageLimit: number) {
    this.#guilds = guilds
    this.#messageLimit = messageLimit
  }

  addChannel (seed: ChannelSeed): SimChannel {
    requireSnowflake('channel id', seed.id)
    this.#guilds.require(seed.guild_id)
    const channel: SimChannel = {
      id: seed.id,
      guild_id: seed.guild_id,
      name: seed.name ?? `channel-${seed.id.slice(-4)}`,
      type: seed.type ?? 0,
      permission_overwrites: seed.permission_overwrites ?? []
    }
    this.channels.set(channel.id, channel)
    return channel
  }

  addMessage (message: SimMessage): void {
    appendBounded(this.messages, message, this.#messageLimit)
  }

  channelMessages (channelId: string): SimMessage[] {
    return this.messages.filter((m) => m.channel_id === channelId)
  }
}
