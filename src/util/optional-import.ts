import { DependencyMissingError } from '../errors.js'

/*
 * mongodb, ioredis (optional peer dependencies) and better-sqlite3 are imported only when the
 * configuration uses them, so a host that does not use one never installs or loads it. When one
 * is needed and absent, start-up fails with an error naming the package and the option, instead
 * of Node's "Cannot find package" from deep inside the plugin.
 */

/** True when `err` is Node's "module not found" for `name` itself (not for one of its own dependencies). */
function isMissing (err: unknown, name: string): boolean {
  const e = err as { code?: unknown, message?: unknown } | null
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') return false
  const message = typeof e.message === 'string' ? e.message : ''
  return message.includes(`'${name}'`) || message.includes(`"${name}"`)
}

/**
 * Runs `load` (a literal `import('<name>')`, so bundlers keep it lazy) and turns a missing package
 * into DependencyMissingError. `neededBy` says which option asked for it, e.g. `store.type "mongodb"`.
 */
export async function importOptional<T> (name: string, neededBy: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (err) {
    if (isMissing(err, name)) throw new DependencyMissingError(neededBy, name, name)
    throw err
  }
}
