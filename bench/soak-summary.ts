/*
 * The soak's samples and how bench/soak.ts judges them: a least-squares line per measure after the
 * warm-up, flat when its change over the window is within twice the residual noise or under a floor.
 */

export interface Sample {
  t: number
  rss: number
  heap: number
  /** V8's compiled code (code spaces) within `heap`: it grows as more functions are optimised, bounded by the program. */
  code: number
  /**
   * Everything V8 compiled, with its metadata, within `heap` (getHeapCodeStatistics: machine code
   * with its relocation, deoptimisation and source-position tables, and bytecode with its own):
   * much of it lives outside the code spaces, in old space, so `heap - code` still carries it.
   */
  compiled: number
  fds: number
  loopP99: number
  loopMax: number
  dbBytes: number
  simLog: number
  simRss: number
  simHeap: number
  simFds: number
  rows: Record<string, number>
  load: number
}

export const short = (name: string): string => name.replace(/^discord_/, '')

export function header (names: string[]): string {
  return ['min', 'rss MB', 'heap MB', 'code MB', 'compiled MB', 'fds', 'loop p99', 'loop max', 'db MB', 'sim rss', 'sim heap', 'sim fds', 'sim log', ...names.map(short), 'load'].join(' | ')
}

export function line (s: Sample, names: string[]): string {
  return [s.t.toFixed(1), s.rss.toFixed(1), s.heap.toFixed(2), s.code.toFixed(2), s.compiled.toFixed(2), s.fds, s.loopP99.toFixed(1), s.loopMax.toFixed(1), s.dbBytes.toFixed(2),
    s.simRss.toFixed(1), s.simHeap.toFixed(2), s.simFds, s.simLog,
    ...names.map((n) => s.rows[n]), s.load.toFixed(2)].join(' | ')
}

/** Least-squares slope (per minute) and the residual standard deviation. */
function fit (xs: number[], ys: number[]): { slope: number, noise: number } {
  const n = xs.length
  if (n < 3) return { slope: 0, noise: 0 }
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let sxy = 0
  let sxx = 0
  for (let i = 0; i < n; i++) { sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my); sxx += ((xs[i] as number) - mx) ** 2 }
  const slope = sxx === 0 ? 0 : sxy / sxx
  const res = ys.map((y, i) => y - (my + slope * ((xs[i] as number) - mx)))
  return { slope, noise: Math.sqrt(res.reduce((a, r) => a + r * r, 0) / (n - 2)) }
}

export function summary (samples: Sample[], names: string[], warmupMin: number): string[] {
  const out: string[] = []
  const after = samples.filter((s) => s.t >= warmupMin)
  const window = after.length >= 3 ? after : samples
  const span = (window.at(-1)?.t ?? 0) - (window[0]?.t ?? 0)
  out.push(`growth per hour: least-squares slope over ${window.length} samples from minute ${window[0]?.t.toFixed(1)} to ${window.at(-1)?.t.toFixed(1)} ` +
    `(warm-up ${warmupMin.toFixed(1)} min: the longer of sync retention + 2 cleanup intervals and OAuth state expiry + purge interval${after.length >= 3 ? '' : '; run shorter than that: all samples used'})`)
  // A measure that warms up slowly (V8 tiering code up for an hour or more) still shows a slope
  // over the whole window after it has levelled; the last hour alone tells the two apart.
  const lastT = window.at(-1)?.t ?? 0
  const tail = window.filter((s) => s.t >= lastT - 60)
  const withTail = span >= 90
  out.push('measure | first | last | min | max | per hour (all samples) | per hour (after warm-up) | change over window | noise (sd) | verdict' +
    (withTail ? ' | change over the last hour | verdict (last hour)' : ''))
  const measures: Array<{ name: string, get: (s: Sample) => number, floor: (mean: number) => number, judged: boolean }> = [
    { name: 'rss MB', get: (s) => s.rss, floor: () => 1, judged: false },
    { name: 'heap MB (after GC)', get: (s) => s.heap, floor: () => 1, judged: true },
    // The heap's two parts apart: what the program keeps, and what V8 compiles as it warms up
    // (machine code and bytecode with their tables: bounded by the program, flushed when unused).
    { name: 'heap without compiled code MB', get: (s) => s.heap - s.compiled, floor: () => 1, judged: true },
    { name: 'compiled MB (code, bytecode, their tables)', get: (s) => s.compiled, floor: () => 1, judged: false },
    { name: 'code spaces MB', get: (s) => s.code, floor: () => 1, judged: false },
    { name: 'fds', get: (s) => s.fds, floor: () => 2, judged: true },
    { name: 'loop p99 ms', get: (s) => s.loopP99, floor: () => 5, judged: false },
    { name: 'db MB (file+WAL)', get: (s) => s.dbBytes, floor: (mean) => Math.max(0.1, mean * 0.02), judged: false },
    { name: 'simulator rss MB', get: (s) => s.simRss, floor: () => 1, judged: false },
    { name: 'simulator heap MB (after GC)', get: (s) => s.simHeap, floor: () => 1, judged: true },
    { name: 'simulator fds', get: (s) => s.simFds, floor: () => 2, judged: true },
    { name: 'sim request log', get: (s) => s.simLog, floor: () => 1, judged: true },
    // Token refresh runs grow by one per tokenRefresh.interval (10m here) until tokenRefresh.retention
    // (90d): bounded, but not within a soak; the other tables must level off.
    ...names.map((n) => ({ name: short(n), get: (s: Sample) => s.rows[n] ?? 0, floor: (mean: number) => Math.max(2, mean * 0.02), judged: n !== 'discord_task_runs' }))
  ]
  const verdicts: string[] = []
  const tailVerdicts: string[] = []
  for (const m of measures) {
    const all = samples.map(m.get)
    const overall = fit(samples.map((s) => s.t), all)
    const w = judge(window, m.get, m.floor)
    const t = judge(tail, m.get, m.floor)
    if (m.judged) { verdicts.push(`${m.name} ${w.verdict}`); tailVerdicts.push(`${m.name} ${t.verdict}`) }
    out.push([m.name, f(all[0]), f(all.at(-1)), f(Math.min(...all)), f(Math.max(...all)), f(overall.slope * 60), f(w.slope * 60), f(w.change), f(w.noise),
      m.judged ? w.verdict : `${w.verdict} (not judged)`, ...(withTail ? [f(t.change), m.judged ? t.verdict : `${t.verdict} (not judged)`] : [])].join(' | '))
  }
  const failed = (vs: string[]): string[] => vs.filter((v) => !v.endsWith('flat'))
  const bad = failed(verdicts)
  out.push(`verdict: ${bad.length === 0 ? 'PASS: host heap and descriptors, simulator heap, descriptors and log, and every table flat after warm-up' : `FAIL: ${bad.join(', ')}`}`)
  if (withTail) {
    const badTail = failed(tailVerdicts)
    out.push(`verdict over the last hour (minute ${tail[0]?.t.toFixed(1)} to ${lastT.toFixed(1)}): ${badTail.length === 0 ? 'PASS: every judged measure flat' : `FAIL: ${badTail.join(', ')}`}`)
  }
  return out
}

/** Flat when the fitted change over the samples is within twice the residual noise or under the floor. */
function judge (window: Sample[], get: (s: Sample) => number, floor: (mean: number) => number): { slope: number, noise: number, change: number, verdict: string } {
  const ys = window.map(get)
  const { slope, noise } = fit(window.map((s) => s.t), ys)
  const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length)
  const change = slope * ((window.at(-1)?.t ?? 0) - (window[0]?.t ?? 0))
  const flat = Math.abs(change) <= Math.max(2 * noise, floor(mean))
  return { slope, noise, change, verdict: flat ? 'flat' : change > 0 ? 'GROWING' : 'falling' }
}

const f = (v: number | undefined): string => v === undefined ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)

/** The samples a soak printed (its table: header line, then a line per sample), to judge again. */
export function parseLog (text: string): { samples: Sample[], names: string[] } {
  const lines = text.split('\n')
  const at = lines.findIndex((l) => l.startsWith('min | rss MB'))
  if (at === -1) throw new Error('no sample table in this log (its header starts "min | rss MB")')
  const cols = (lines[at] as string).split(' | ')
  const names = cols.slice(cols.indexOf('sim log') + 1, cols.indexOf('load')).map((n) => `discord_${n}`)
  const samples: Sample[] = []
  for (const l of lines.slice(at + 1)) {
    const v = l.split(' | ')
    if (v.length !== cols.length || Number.isNaN(Number(v[0]))) continue
    const g = (c: string): number => Number(v[cols.indexOf(c)])
    const rows = Object.fromEntries(names.map((n) => [n, g(short(n))]))
    samples.push({ t: g('min'), rss: g('rss MB'), heap: g('heap MB'), code: g('code MB'), compiled: g('compiled MB'), fds: g('fds'), loopP99: g('loop p99'), loopMax: g('loop max'), dbBytes: g('db MB'), simRss: g('sim rss'), simHeap: g('sim heap'), simFds: g('sim fds'), simLog: g('sim log'), rows, load: g('load') })
  }
  return { samples, names }
}
