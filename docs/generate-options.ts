/*
 * Rewrites the generated option tables of docs/configuration.md from the schemas in src/options/
 * (npm run docs:options). test/options/docs.test.ts fails until this has been run after a change.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { updateConfigurationDoc } from '../src/options/docs.js'

const file = new URL('../docs/configuration.md', import.meta.url)
const before = readFileSync(file, 'utf8')
const after = updateConfigurationDoc(before)
if (after !== before) writeFileSync(file, after)
console.log(after === before ? 'docs/configuration.md is up to date' : 'docs/configuration.md updated')
