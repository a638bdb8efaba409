import { Type, type Static } from '@sinclair/typebox'
import type { MongoConnection, MongoDatabase, SqliteDatabase } from '../util/driver-types.js'
import type { DiscordStore } from '../store/port/index.js'
import { defaultsOf, instance, opt, required } from './define.js'
import { fail } from './fail.js'

/*
 * The store variants are schemas for their types and docs only: `store` is checked by
 * resolveStore, whose messages name the exact field (a TypeBox union would only say "union").
 */

export const SqliteStoreSchema = Type.Object({
  type: required(Type.Literal('sqlite'), { description: 'SQLite, through better-sqlite3.' }),
  path: opt(Type.String({ minLength: 1 }), { default: './data/discord.sqlite', description: 'Database file, or ":memory:".' }),
  database: opt(instance<SqliteDatabase>({ title: 'better-sqlite3 Database' }), {
    description: 'A host better-sqlite3 handle to use instead of opening `path`.'
  })
}, { additionalProperties: false, title: 'sqlite' })

export const MongoStoreSchema = Type.Object({
  type: required(Type.Literal('mongodb'), { description: 'MongoDB. Give exactly one of `uri`, `db` or `client`.' }),
  uri: opt(Type.String({ pattern: '^mongodb(\\+srv)?://' }), { description: 'A mongodb:// or mongodb+srv:// URI (the plugin opens and closes the client).' }),
  dbName: opt(Type.String({ minLength: 1 }), { description: 'Database name; required with `uri` or `client`, refused with `db`.' }),
  db: opt(instance<MongoDatabase>({ title: 'mongodb Db' }), { description: 'A host Db (never closed by the plugin).' }),
  client: opt(instance<MongoConnection>({ title: 'MongoClient' }), { description: 'A host MongoClient (never closed by the plugin).' }),
  collectionPrefix: opt(Type.String({ pattern: '^[A-Za-z0-9_]{1,32}$' }), { defaultText: "`'discord_'`", description: 'Prefix of every collection name.' })
}, { additionalProperties: false, title: 'mongodb' })

/** The variants of `{ type, ... }` the plugin builds a store from. */
export const STORE_VARIANTS = [SqliteStoreSchema, MongoStoreSchema] as const

const SQLITE_PATH = defaultsOf(SqliteStoreSchema).path

export const StoreProperty = opt(instance<StoreOption>({ title: 'DiscordStore | { type: \'sqlite\', ... } | { type: \'mongodb\', ... }' }), {
  defaultText: `\`{ type: 'sqlite', path: '${SQLITE_PATH}' }\``,
  description: 'A ready store (never closed by the plugin), or how to build one (see the store variants below).'
})

/** How the plugin should build its store when the host does not pass one. */
export type StoreOption = DiscordStore | Static<typeof SqliteStoreSchema> | Static<typeof MongoStoreSchema>

/** The default SQLite file, as DEFAULT_OPTIONS.sqlitePath has always exposed it. */
export const DEFAULT_SQLITE_PATH = SQLITE_PATH

function isStoreInstance (v: unknown): v is DiscordStore {
  return typeof v === 'object' && v !== null &&
    ['init', 'ping', 'close', 'createUser', 'consumeOAuthState'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function')
}

export function resolveStore (store: unknown): { store: StoreOption, hostOwned: boolean } {
  if (store === undefined) return { store: { type: 'sqlite', path: SQLITE_PATH }, hostOwned: false }
  if (isStoreInstance(store)) return { store, hostOwned: true }
  if (typeof store !== 'object' || store === null) fail('store', 'must be a DiscordStore instance or { type: "sqlite" | "mongodb", ... }')
  const s = store as Record<string, unknown>
  if (s.type === 'sqlite') {
    for (const k of Object.keys(s)) if (!['type', 'path', 'database'].includes(k)) fail(`store.${k}`, 'is not a sqlite store option')
    if (s.path !== undefined && (typeof s.path !== 'string' || s.path.length === 0)) fail('store.path', 'must be a non-empty file path or ":memory:"')
    if (s.database !== undefined && (typeof s.database !== 'object' || s.database === null || typeof (s.database as { prepare?: unknown }).prepare !== 'function')) {
      fail('store.database', 'must be a better-sqlite3 Database')
    }
    return { store: { type: 'sqlite', path: (s.path as string | undefined) ?? SQLITE_PATH, database: s.database as SqliteDatabase | undefined }, hostOwned: false }
  }
  if (s.type === 'mongodb') {
    for (const k of Object.keys(s)) if (!['type', 'uri', 'dbName', 'db', 'client', 'collectionPrefix'].includes(k)) fail(`store.${k}`, 'is not a mongodb store option')
    const sources = ['uri', 'db', 'client'].filter((k) => s[k] !== undefined)
    if (sources.length !== 1) fail('store', 'mongodb needs exactly one of uri, db or client')
    if (s.uri !== undefined && (typeof s.uri !== 'string' || !/^mongodb(\+srv)?:\/\//.test(s.uri))) fail('store.uri', 'must be a mongodb:// or mongodb+srv:// URI')
    if ((s.uri !== undefined || s.client !== undefined) && (typeof s.dbName !== 'string' || s.dbName.length === 0)) fail('store.dbName', 'is required with uri or client')
    // MongoDB's naming rules (any platform): the driver accepts such a name and the server refuses it at the first write.
    if (typeof s.dbName === 'string' && (Buffer.byteLength(s.dbName) > 63 || /[/\\. "$*<>:|?\0]/.test(s.dbName))) {
      fail('store.dbName', 'must be a MongoDB database name: at most 63 bytes, none of / \\ . " $ * < > : | ? space or NUL')
    }
    if (s.db !== undefined && s.dbName !== undefined) fail('store.dbName', 'must not be set with db (the Db already names its database)')
    if (s.db !== undefined && (typeof s.db !== 'object' || s.db === null || typeof (s.db as { collection?: unknown }).collection !== 'function')) fail('store.db', 'must be a mongodb Db')
    if (s.client !== undefined && (typeof s.client !== 'object' || s.client === null || typeof (s.client as { db?: unknown }).db !== 'function')) fail('store.client', 'must be a MongoClient')
    if (s.collectionPrefix !== undefined && (typeof s.collectionPrefix !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(s.collectionPrefix))) fail('store.collectionPrefix', 'must be 1-32 letters, digits or underscores')
    return { store: s as StoreOption, hostOwned: false }
  }
  return fail('store.type', 'must be "sqlite" or "mongodb"')
}
