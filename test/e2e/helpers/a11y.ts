import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'

/*
 * Checks every admin UI page test shares (issue 17, "Show"):
 *
 * - axeScan: axe-core's accessibility rules on the page as it is now; the caller expects no
 *   serious or critical violation. axe is evaluated through the DevTools protocol, which the
 *   page's Content-Security-Policy (script-src 'self') does not apply to, so the UI needs no
 *   test-only relaxation.
 * - bareSnowflakes: elements whose whole visible text is a Discord id (17–20 digits): a user,
 *   guild or role shown by its id instead of its name. Ids shown as secondary, copyable text
 *   are marked with the `data-secondary-id` attribute (on the element or an ancestor) and are
 *   allowed; everything else that reads as a bare id is reported.
 */

const require = createRequire(import.meta.url)
let axeSource: string | undefined

/** One axe violation, reduced to what a failing assertion should print. */
export interface A11yViolation {
  id: string
  impact: string | null
  help: string
  targets: string[]
}

/** Runs axe-core on the page; returns the violations of at least `minImpact` (default serious). */
export async function axeScan (page: Page, minImpact: 'minor' | 'moderate' | 'serious' | 'critical' = 'serious'): Promise<A11yViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
  // Browser-side code as text: the test build has no DOM types, and none of it runs in Node.
  const loaded = await page.evaluate('typeof window.axe === "object"') as boolean
  if (!loaded) await page.evaluate(axeSource)
  const order = ['minor', 'moderate', 'serious', 'critical']
  const floor = order.indexOf(minImpact)
  const violations = await page.evaluate(`window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.map(String).join(' '))
  })))`) as A11yViolation[]
  return violations.filter((v) => order.indexOf(v.impact ?? 'minor') >= floor)
}

/** What bareSnowflakes reports: where a bare id is the label, and which id. */
export interface BareSnowflake {
  tag: string
  text: string
  path: string
}

/**
 * Visible elements (including <option>s) whose entire text is a 17–20 digit id, outside any
 * `[data-secondary-id]`. Only the innermost such element is reported.
 */
export async function bareSnowflakes (page: Page): Promise<BareSnowflake[]> {
  return await page.evaluate(`(() => {
    const SNOWFLAKE = /^\\d{17,20}$/
    const found = []
    const pathOf = (el) => {
      const parts = []
      for (let e = el; e !== null && e !== document.body && parts.length < 5; e = e.parentElement) {
        parts.unshift(e.tagName.toLowerCase() + (e.id !== '' ? '#' + e.id : '') + (e.classList.length > 0 ? '.' + [...e.classList].join('.') : ''))
      }
      return parts.join(' > ')
    }
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('[data-secondary-id]') !== null) continue
      if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE'].includes(el.tagName)) continue
      const text = (el.textContent ?? '').trim()
      if (!SNOWFLAKE.test(text)) continue
      // The innermost element holding the text is the label; its ancestors only contain it.
      if ([...el.children].some((c) => (c.textContent ?? '').trim() === text)) continue
      const visible = el.tagName === 'OPTION' || el.getClientRects().length > 0
      if (!visible) continue
      found.push({ tag: el.tagName.toLowerCase(), text, path: pathOf(el) })
    }
    return found
  })()`) as BareSnowflake[]
}

/** The two widths every page is checked at: a desktop and a phone (iPhone 12-14 class, 390 px). */
export const VIEWPORTS = Object.freeze([
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 }
] as const)
