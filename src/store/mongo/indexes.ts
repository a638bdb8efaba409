/*
 * Every index the adapter needs, keyed by logical collection. Names are explicit so
 * that a duplicate-key error can be traced back to its fields by index name (the
 * server's message names the index) and so operators can recognise them.
 */

export type CollectionKey = 'users' | 'guilds' | 'mappings' | 'syncRuns' | 'taskRuns' | 'oauthStates' | 'audit' | 'leases' | 'syncRunsVersion' | 'accessLoss'

export interface IndexSpec {
  name: string
  key: Record<string, 1 | -1>
  unique?: true
  expireAfterSeconds?: number
}

export const COLLECTION_SUFFIXES: Readonly<Record<CollectionKey, string>> = Object.freeze({
  users: 'users',
  guilds: 'guild_configs',
  mappings: 'role_mappings',
  syncRuns: 'sync_status',
  taskRuns: 'task_runs',
  oauthStates: 'oauth_states',
  audit: 'audit_log',
  leases: 'leases',
  syncRunsVersion: 'sync_runs_version',
  accessLoss: 'access_loss'
})

const SPECS: Record<CollectionKey, readonly IndexSpec[]> = {
  users: [
    { name: 'uniq_discord_user_id', key: { discord_user_id: 1 }, unique: true },
    { name: 'user_id', key: { user_id: 1 } },
    // listUsers pages on (created_at, _id); without _id, equal timestamps could reorder between pages.
    { name: 'created_at_id', key: { created_at: 1, _id: 1 } },
    { name: 'guilds_id', key: { 'guilds.id': 1 } },
    // The refresh task scans by expiry, oldest first.
    { name: 'token_expires_at', key: { token_expires_at: 1 } }
  ],
  guilds: [
    { name: 'uniq_guild_id', key: { guild_id: 1 }, unique: true }
  ],
  mappings: [
    { name: 'uniq_guild_group_role', key: { guild_id: 1, group_id: 1, discord_role_id: 1 }, unique: true },
    { name: 'guild_priority', key: { guild_id: 1, priority: 1 } }
  ],
  syncRuns: [
    // failStaleSyncRuns looks for running/pending runs with old heartbeats.
    { name: 'status_heartbeat', key: { status: 1, heartbeat_at: 1 } },
    { name: 'type_target_created', key: { sync_type: 1, target_id: 1, created_at: 1 } },
    { name: 'created_at', key: { created_at: 1 } }
  ],
  // A task's runs newest first, and pruning its old ones.
  taskRuns: [
    { name: 'task_started_id', key: { task: 1, started_at: 1, _id: 1 } }
  ],
  oauthStates: [
    { name: 'uniq_state', key: { state: 1 }, unique: true },
    // expireAfterSeconds 0: the document's own expires_at is the deadline. The monitor
    // runs about once a minute, so reads still check expires_at themselves.
    { name: 'ttl_expires_at', key: { expires_at: 1 }, expireAfterSeconds: 0 }
  ],
  // Audit pages newest first on (created_at, _id); the trailing _id lets the index
  // serve that sort entirely instead of a blocking in-memory sort on large logs.
  audit: [
    { name: 'guild_created', key: { guild_id: 1, created_at: 1, _id: 1 } },
    { name: 'discord_user_created', key: { discord_user_id: 1, created_at: 1, _id: 1 } },
    { name: 'user_created', key: { user_id: 1, created_at: 1, _id: 1 } },
    { name: 'run_id', key: { run_id: 1 } },
    { name: 'created_at_id', key: { created_at: 1, _id: 1 } }
  ],
  // Looked up by name (_id) only; an expired lease is taken over in place, so none is left to reap.
  leases: [],
  // One document, found by _id.
  syncRunsVersion: [],
  // Marked and cleared by guild and member; swept by guild and last sighting.
  accessLoss: [
    { name: 'guild_member', key: { guild_id: 1, discord_user_id: 1 } },
    { name: 'guild_seen', key: { guild_id: 1, seen_at: 1 } }
  ]
}

export const INDEXES: Readonly<Record<CollectionKey, readonly IndexSpec[]>> = Object.freeze(SPECS)
