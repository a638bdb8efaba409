/*
 * Durations in options and env use the seed's Go-style strings ("15m", "1h30m",
 * "500ms") or plain milliseconds, so settings copied from a Go Falcon deployment work.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g

/** Parses "1h30m", "10s", "250ms" or a non-negative number of ms; returns null when malformed. */
export function parseDuration (value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : null
  const s = value.trim()
  if (/^\d+$/.test(s)) return Number(s)
  if (!DURATION_RE.test(s)) return null
  let total = 0
  for (const [, n, unit] of s.matchAll(PART_RE)) total += Number(n) * (UNIT_MS[unit as string] as number)
  return Math.round(total)
}

/** Formats ms back into the shortest Go-style string ("90000" -> "1m30s"). */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  let rest = ms
  let out = ''
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit] as number
    const n = Math.floor(rest / size)
    if (n > 0) { out += `${n}${unit}`; rest -= n * size }
  }
  return out
}
