/**
 * The defined values of `value` for the keys `defaults` has: how every adapter reads a partial
 * settings or conditions object, so an unknown key never reaches the database and an
 * `undefined` (a field the caller did not give) never overwrites anything. Arrays are copied.
 */
export function pickKnown<T extends object> (defaults: Readonly<T>, value: Partial<T> | null | undefined): Partial<T> {
  const out: Partial<T> = {}
  if (value === null || value === undefined) return out
  for (const key of Object.keys(defaults) as Array<keyof T>) {
    const v = value[key]
    if (v !== undefined) out[key] = (Array.isArray(v) ? [...v] : v) as T[keyof T]
  }
  return out
}

/** `defaults`, then each layer's known, defined values over it (stored value, then patch). */
export function mergeKnown<T extends object> (defaults: Readonly<T>, ...layers: Array<Partial<T> | null | undefined>): T {
  // One pass over the keys (what pickKnown of each layer then Object.assign computed): every
  // stored guild and mapping read goes through here, a list page some twenty times.
  const out: Partial<T> = {}
  for (const key of Object.keys(defaults) as Array<keyof T>) {
    let v = defaults[key]
    for (const layer of layers) {
      if (layer === null || layer === undefined) continue
      const lv = layer[key]
      if (lv !== undefined) v = lv as T[keyof T]
    }
    out[key] = (Array.isArray(v) ? [...v] : v) as T[keyof T]
  }
  return out as T
}
