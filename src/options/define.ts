import { Kind, Type, type Static, type TObject, type TOptional, type TProperties, type TSchema, type TUnion, type TUnsafe } from '@sinclair/typebox'

/*
 * Each option is declared once, as a schema property carrying its default and description:
 * validation, the public types (Static), DEFAULT_OPTIONS and docs/configuration.md all read it.
 * `defaultText` (docs only) describes a default that is not a plain value; `minimumMs` (durations)
 * is enforced by the resolver, which reads it from here.
 */

/** The default's TypeScript type, kept on the schema for DefaultsOf (TypeBox types `default` as any). */
export const DefaultValue: unique symbol = Symbol('fastify-discord-sync.defaultValue')
export interface WithDefault<D> { default: D, [DefaultValue]: D }

interface Described { description: string }
interface DescribedDefault extends Described { defaultText?: string }

/** An optional option whose default is a value (it lands in DEFAULT_OPTIONS). */
export function opt<T extends TSchema, const D extends Readonly<Static<T>>> (schema: T, meta: Described & { default: D }): TOptional<T & WithDefault<D>>
/** An optional option without a plain default value (`defaultText` says what happens then). */
export function opt<T extends TSchema> (schema: T, meta: DescribedDefault): TOptional<T>
export function opt (schema: TSchema, meta: DescribedDefault & { default?: unknown }): TSchema {
  return Type.Optional('default' in meta ? { ...schema, ...meta, [DefaultValue]: meta.default } : { ...schema, ...meta })
}

/** A property that must be given (within its group). */
export function required<T extends TSchema> (schema: T, meta: Described): T {
  return { ...schema, ...meta }
}

/**
 * A host-provided instance or function: checked by the resolver (duck typing, with its own
 * message), typed as `T`, passed as anything by the schema.
 */
export function instance<T> (meta: { title: string }): TUnsafe<T> {
  return Type.Unsafe<T>({ [Kind]: 'Unknown', ...meta })
}

/** A duration as written in options: a Go-style string or milliseconds. */
export const DURATION = Type.Union([
  Type.String({ pattern: '^\\s*(\\d+|(\\d+(\\.\\d+)?(ms|s|m|h|d))+)\\s*$' }),
  Type.Integer({ minimum: 0 })
], { title: 'duration' })
type TDuration = typeof DURATION

/** A Go-style duration ("15m", "1h30m") or milliseconds, at least `minimumMs`. */
export function duration<const D extends Static<TDuration>> (meta: Described & { default: D, minimumMs: number }): TOptional<TDuration & WithDefault<D> & { minimumMs: number }>
export function duration (meta: Described & { default: Static<TDuration>, minimumMs: number }): TSchema {
  return Type.Optional({ ...DURATION, ...meta, [DefaultValue]: meta.default })
}

export const Snowflakeish = Type.String({ pattern: '^\\d{17,20}$' })

/**
 * The object schema inside a group property (`rateLimit` is `false | { ... }`). A property with a
 * whole-value default (`auth.stateRateLimit`) is one option, documented in one row, not a group.
 */
export function groupOf (schema: TSchema): TObject | undefined {
  if (DefaultValue in schema) return undefined
  if (schema.type === 'object' && schema.properties !== undefined) return schema as TObject
  for (const branch of (schema.anyOf ?? []) as TSchema[]) {
    const group = groupOf(branch)
    if (group !== undefined) return group
  }
  return undefined
}

type GroupProps<T> = T extends TObject<infer P> ? P : T extends TUnion<infer U> ? GroupProps<U[number]> : never
/** The type DEFAULT_OPTIONS has always had (Object.freeze's inference): literals, but a list is a plain array. */
type AsFrozen<D> = D extends ReadonlyArray<infer E> ? Array<E extends string ? string : E> : D

/** The defaults a group declares, nested groups included (frozen). */
export type DefaultsOf<P extends TProperties> = {
  readonly [K in keyof P as P[K] extends { [DefaultValue]: unknown } ? K : [GroupProps<P[K]>] extends [never] ? never : K]:
  P[K] extends { [DefaultValue]: infer D } ? AsFrozen<D> : Readonly<DefaultsOf<GroupProps<P[K]>>>
}

export function defaultsOf<P extends TProperties> (schema: TObject<P>): DefaultsOf<P> {
  const out: Record<string, unknown> = {}
  for (const [key, prop] of Object.entries(schema.properties as TProperties)) {
    if (DefaultValue in prop) {
      // A copy: mutating DEFAULT_OPTIONS.scopes must not rewrite the schema (and the docs).
      out[key] = structuredClone(prop.default)
    } else {
      const group = groupOf(prop)
      if (group !== undefined) out[key] = Object.freeze(defaultsOf(group))
    }
  }
  return out as DefaultsOf<P>
}
