// @ts-check
/*
 * The configured guilds, kept from the last page that listed them so tables can show a guild's
 * name where the API gives only its id.
 */
import { api } from './api.js'
import { state } from './state.js'

/** @typedef {import('./types.js').GuildConfig} GuildConfig */

/** Reads the guild list (and keeps it for guildName). */
export async function loadGuilds () {
  state.guilds = /** @type {import('./types.js').GuildList} */ (await api('GET', 'guilds')).guilds
  return state.guilds
}

/**
 * The guild's name if a page loaded it, else its id.
 * @param {string} guildId
 */
export function guildName (guildId) {
  return state.guilds?.find((g) => g.guild_id === guildId)?.guild_name ?? guildId
}
