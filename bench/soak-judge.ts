/*
 * Judges a soak's printed samples again (bench/soak.ts's log), e.g. a run still going, or with
 * another warm-up:
 *
 *   npx tsx bench/soak-judge.ts soak.log [--warmup 20]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { parseLog, summary } from './soak-summary.js'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { warmup: { type: 'string', default: '20' } } })
const file = positionals[0]
if (file === undefined) {
  console.error('usage: npx tsx bench/soak-judge.ts <soak log> [--warmup minutes]')
  process.exit(2)
}
const { samples, names } = parseLog(readFileSync(file, 'utf8'))
for (const line of summary(samples, names, Number(values.warmup))) console.log(line)
