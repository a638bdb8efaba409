import { defaultsOf } from './define.js'
import { OptionsSchema } from './schema.js'
import { DEFAULT_SQLITE_PATH } from './store.js'

const { discord, ...topLevel } = defaultsOf(OptionsSchema)

/**
 * The default of every option that has a plain value, read from the schema. The Discord app's
 * and the SQLite store's defaults sit at the top level, where they have always been.
 */
export const DEFAULT_OPTIONS = Object.freeze({
  ...topLevel,
  sqlitePath: DEFAULT_SQLITE_PATH,
  authorizeUrl: discord.authorizeUrl,
  scopes: discord.scopes
})
