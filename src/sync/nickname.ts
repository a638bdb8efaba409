/*
 * Nickname templates (docs/sync.md "Nicknames"): a guild's `nickname_template` such as
 * `[{ticker}] {name}` is parsed once, checked against the variables the host declared, and
 * rendered per member from the Discord user and the provider's profile. Pure: no I/O.
 *
 * Rules, each pinned by test/sync/nickname.test.ts:
 * - `{var}` inserts a variable; `{{` and `}}` are literal braces; any other brace is a syntax
 *   error. Variable names match /^[a-z][a-z0-9_]{0,31}$/.
 * - Known variables: the built-ins `username` and `global_name` (Discord's display name, falling
 *   back to the username), plus the profile fields listed in `sync.nicknameVariables`.
 * - A template longer than 100 characters, with a control character, a syntax error or an
 *   unknown variable is refused when the guild is saved.
 * - A profile variable the user's profile lacks (or that is empty) renders nothing for that
 *   member: the nickname is left alone rather than half-filled.
 * - The rendered text gets Discord's own sanitising (whitespace trimmed and runs collapsed, so
 *   what is sent is what Discord stores and the next sync sees no difference), then is cut to
 *   32 UTF-16 units (Discord's limit, user.mdx) without splitting a surrogate pair, and trimmed
 *   again. Empty after that: left alone (Discord needs 1 to 32 characters).
 */

/** Discord: "Nicknames must be between 1 and 32 characters long" (user.mdx). */
export const NICKNAME_MAX = 32
/** The longest template a guild may save. */
export const TEMPLATE_MAX = 100
/** Profile values longer than this are cut before rendering (they come from the host: untrusted). */
export const PROFILE_VALUE_MAX = 64
/** Variables every template may use, filled from the Discord user. */
export const BUILTIN_VARIABLES: readonly string[] = Object.freeze(['username', 'global_name'])

const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g

export type TemplatePart = { text: string } | { variable: string }
export interface CompiledTemplate {
  source: string
  parts: readonly TemplatePart[]
}

/** Why a template is refused; the message names the setting and the problem. */
export class NicknameTemplateError extends Error {
  constructor (why: string) {
    super(`settings.nickname_template ${why}`)
    this.name = 'NicknameTemplateError'
  }
}

/** Parses and checks a template against the known variables (null: any name); throws NicknameTemplateError. */
export function compileTemplate (source: string, known: readonly string[] | null): CompiledTemplate {
  if (source.length > TEMPLATE_MAX) throw new NicknameTemplateError(`is ${source.length} characters long; at most ${TEMPLATE_MAX} are allowed`)
  if (new RegExp(CONTROL_RE.source).test(source)) throw new NicknameTemplateError('contains a control character')
  const parts: TemplatePart[] = []
  let text = ''
  for (let i = 0; i < source.length; i++) {
    const ch = source[i] as string
    if (ch === '{' && source[i + 1] === '{') { text += '{'; i++; continue }
    if (ch === '}' && source[i + 1] === '}') { text += '}'; i++; continue }
    if (ch === '}') throw new NicknameTemplateError(`has an unmatched "}" at position ${i + 1} (write "}}" for a literal brace)`)
    if (ch !== '{') { text += ch; continue }
    const end = source.indexOf('}', i + 1)
    if (end < 0) throw new NicknameTemplateError(`has an unclosed "{" at position ${i + 1} (write "{{" for a literal brace)`)
    const name = source.slice(i + 1, end)
    if (!NAME_RE.test(name)) throw new NicknameTemplateError(`has an invalid variable "{${name.slice(0, 40)}}": names are lower-case letters, digits and _`)
    if (known !== null && !BUILTIN_VARIABLES.includes(name) && !known.includes(name)) {
      throw new NicknameTemplateError(`uses the unknown variable "{${name}}"; known: ${[...BUILTIN_VARIABLES, ...known].map((v) => `{${v}}`).join(', ')}`)
    }
    if (text !== '') parts.push({ text })
    text = ''
    parts.push({ variable: name })
    i = end
  }
  if (text !== '') parts.push({ text })
  if (!parts.some((p) => 'variable' in p)) throw new NicknameTemplateError('uses no variable: every member would get the same nickname')
  return { source, parts }
}

/** A provider profile value as untrusted text: control characters stripped, length capped. */
export function cleanProfileValue (value: string): string {
  return cutUnits(value.replace(CONTROL_RE, ''), PROFILE_VALUE_MAX)
}

/** Cuts to at most `max` UTF-16 units without leaving half a surrogate pair. */
function cutUnits (s: string, max: number): string {
  if (s.length <= max) return s
  const code = s.charCodeAt(max - 1)
  return s.slice(0, code >= 0xD800 && code <= 0xDBFF ? max - 1 : max)
}

/** Discord's sanitising: trimmed, runs of whitespace collapsed to one space. */
function squash (s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

/** What a member's nickname is rendered from. */
export interface NicknameSource {
  username: string | null
  global_name: string | null
  /** Already cleaned (see cleanProfileValue). */
  profile: Readonly<Record<string, string>> | undefined
}

/** The member's nickname, or null when it must be left alone (a variable has no value, or nothing is left). */
export function renderNickname (t: CompiledTemplate, src: NicknameSource): string | null {
  let out = ''
  for (const p of t.parts) {
    if ('text' in p) { out += p.text; continue }
    let v: string | null | undefined
    if (p.variable === 'username') v = src.username
    else if (p.variable === 'global_name') v = src.global_name ?? src.username
    else v = src.profile?.[p.variable]
    if (v === null || v === undefined || squash(v) === '') return null
    out += v
  }
  const nick = squash(cutUnits(squash(out.replace(CONTROL_RE, '')), NICKNAME_MAX))
  return nick === '' ? null : nick
}
