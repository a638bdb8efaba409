import { createRequire } from 'node:module'
import type * as PromClient from 'prom-client'

/*
 * The four prom-client classes the plugin uses, from their own modules. prom-client's index also
 * loads the default process metrics (and with them @opentelemetry/api, some 50 modules), Summary,
 * the Pushgateway and the cluster aggregator: about 80 modules the plugin never uses, which were
 * a noticeable share of the standalone server's start (issue 16, part 4). These are the very
 * modules the index re-exports (same files, so the same classes): a host's `new Registry()` from
 * 'prom-client' and ours are one class, and `instanceof` keeps working both ways.
 * prom-client is an exact dependency (package.json), so these paths are the ones it ships.
 */
const require = createRequire(import.meta.url)

/** prom-client's Registry, Counter, Gauge and Histogram (the types come from 'prom-client' itself). */
export const promClient = Object.freeze({
  Registry: require('prom-client/lib/registry') as typeof PromClient.Registry,
  Counter: require('prom-client/lib/counter') as typeof PromClient.Counter,
  Gauge: require('prom-client/lib/gauge') as typeof PromClient.Gauge,
  Histogram: require('prom-client/lib/histogram') as typeof PromClient.Histogram
})
