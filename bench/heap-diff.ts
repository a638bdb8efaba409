/*
 * What grew between two V8 heap snapshots (issue 18): the soak's `--heap-snapshots 25,55` writes
 * them. Not a test: it prints figures. Run it with
 *
 *   node --max-old-space-size=4000 --import tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot [--top 40] [--retainers 'object:Object|array:']
 *
 * Prints the change in bytes and node count per node type and name (B minus A, largest growth
 * first), the change per node type (V8's compiled code and its bookkeeping apart from JavaScript
 * objects, arrays and strings), and with `--retainers` the most common retainer paths (ten steps
 * up, strong edges only) of the nodes of those groups that are new in B (ids absent from A).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Snapshot {
  snapshot: { meta: { node_fields: string[], edge_fields: string[], node_types: [string[]], edge_types: [string[]] } }
  nodes: number[]
  edges: number[]
  strings: string[]
}

class Heap {
  readonly count: number
  readonly #s: Snapshot
  readonly #n: number
  readonly #e: number
  readonly #f: { type: number, name: number, id: number, size: number, edges: number, edgeType: number, edgeName: number, to: number }
  readonly #firstEdge: Uint32Array

  constructor (file: string) {
    this.#s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
    const { node_fields: nf, edge_fields: ef } = this.#s.snapshot.meta
    this.#n = nf.length
    this.#e = ef.length
    this.#f = {
      type: nf.indexOf('type'),
      name: nf.indexOf('name'),
      id: nf.indexOf('id'),
      size: nf.indexOf('self_size'),
      edges: nf.indexOf('edge_count'),
      edgeType: ef.indexOf('type'),
      edgeName: ef.indexOf('name_or_index'),
      to: ef.indexOf('to_node')
    }
    this.count = this.#s.nodes.length / this.#n
    this.#firstEdge = new Uint32Array(this.count + 1)
    for (let i = 0, e = 0; i < this.count; i++) {
      this.#firstEdge[i] = e
      e += this.#field(i, this.#f.edges) * this.#e
      this.#firstEdge[i + 1] = e
    }
  }

  #field (node: number, f: number): number { return this.#s.nodes[node * this.#n + f] as number }

  /** "type:name", the grouping key (names cut at 60 characters). */
  key (node: number): string {
    const type = this.#s.snapshot.meta.node_types[0][this.#field(node, this.#f.type)] as string
    return `${type}:${String(this.#s.strings[this.#field(node, this.#f.name)]).slice(0, 60)}`
  }

  id (node: number): number { return this.#field(node, this.#f.id) }
  size (node: number): number { return this.#field(node, this.#f.size) }

  /** Strong edges into each node: [from node, edge label]. */
  retainers (): Map<number, Array<[number, string]>> {
    const types = this.#s.snapshot.meta.edge_types[0]
    const out = new Map<number, Array<[number, string]>>()
    for (let i = 0; i < this.count; i++) {
      for (let e = this.#firstEdge[i] as number; e < (this.#firstEdge[i + 1] as number); e += this.#e) {
        const type = types[this.#s.edges[e + this.#f.edgeType] as number]
        if (type === 'weak') continue
        const to = (this.#s.edges[e + this.#f.to] as number) / this.#n
        const raw = this.#s.edges[e + this.#f.edgeName] as number
        const label = type === 'element' || type === 'hidden' ? `[${raw}]` : String(this.#s.strings[raw])
        let list = out.get(to)
        if (list === undefined) out.set(to, list = [])
        list.push([i, label])
      }
    }
    return out
  }
}

function groups (h: Heap): Map<string, { count: number, bytes: number }> {
  const out = new Map<string, { count: number, bytes: number }>()
  for (let i = 0; i < h.count; i++) {
    const k = h.key(i)
    const g = out.get(k) ?? { count: 0, bytes: 0 }
    g.count++
    g.bytes += h.size(i)
    out.set(k, g)
  }
  return out
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' }, retainers: { type: 'string' } } })
if (positionals.length !== 2) throw new Error('usage: bench/heap-diff.ts A.heapsnapshot B.heapsnapshot [--top N] [--retainers "type:name|..."]')
const a = new Heap(positionals[0] as string)
const b = new Heap(positionals[1] as string)
const ga = groups(a)
const gb = groups(b)
const rows: Array<{ key: string, count: number, bytes: number }> = []
for (const [key, g] of gb) rows.push({ key, count: g.count - (ga.get(key)?.count ?? 0), bytes: g.bytes - (ga.get(key)?.bytes ?? 0) })
for (const [key, g] of ga) if (!gb.has(key)) rows.push({ key, count: -g.count, bytes: -g.bytes })
rows.sort((x, y) => y.bytes - x.bytes)
const total = (g: Map<string, { bytes: number }>): number => [...g.values()].reduce((n, v) => n + v.bytes, 0)
console.log(`self size A ${total(ga)} bytes, B ${total(gb)} bytes, change ${total(gb) - total(ga)}`)
console.log('bytes | nodes | type:name')
for (const r of rows.slice(0, Number(values.top))) console.log(`${r.bytes} | ${r.count} | ${r.key}`)

// V8's dependent-code lists (WeakArrayLists hung off hidden classes) grow with compiled code, not with the program's data.
const byType = new Map<string, number>()
for (const r of rows) {
  const type = (r.key.split(':')[0] as string) + (r.key.includes('WeakArrayList') ? ' (WeakArrayList)' : '')
  byType.set(type, (byType.get(type) ?? 0) + r.bytes)
}
console.log('\nchange by node type (bytes)')
for (const [type, bytes] of [...byType].sort((x, y) => y[1] - x[1])) if (bytes !== 0) console.log(`${bytes} | ${type}`)

if (values.retainers !== undefined) {
  const wanted = new Set(values.retainers.split('|'))
  const old = new Set<number>()
  for (let i = 0; i < a.count; i++) old.add(a.id(i))
  const into = b.retainers()
  const paths = new Map<string, number>()
  for (let i = 0; i < b.count; i++) {
    if (!wanted.has(b.key(i)) || old.has(b.id(i))) continue
    const steps: string[] = []
    const seen = new Set<number>([i])
    let at = i
    for (let depth = 0; depth < 10; depth++) {
      const up = into.get(at)?.find(([from]) => !seen.has(from))
      if (up === undefined) break
      steps.push(`${b.key(up[0])}.${up[1]}`)
      seen.add(up[0])
      at = up[0]
    }
    const path = steps.join(' <- ')
    paths.set(path, (paths.get(path) ?? 0) + 1)
  }
  console.log('\nretainer paths of new nodes (count | path)')
  for (const [path, n] of [...paths].sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`${n} | ${path}\n`)
}
