import { createRequire } from 'node:module'
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify'

/*
 * Schemas compiled on a route's first use instead of at ready (issue 16, part 4).
 *
 * Fastify compiles every route's validators and response serialisers while `ready()` runs:
 * for this plugin's ~60 routes that was 300–400 ms of a 1.3 s start, most of it
 * fast-json-stringify generating code for response schemas of routes a given deployment may
 * never call. Each compiler here returns a function that compiles on its first call and keeps
 * the result, so a route pays its compilation once, on its first request, and routes never
 * called cost nothing. The schemas are the same, so answers and validation errors are too.
 */

type Serializer = (data: unknown) => string
type Build = (route: Parameters<FastifySerializerCompiler<FastifySchema>>[0]) => Serializer

/** A validator compiler whose compilation happens on the first validation. */
export function lazyValidatorCompiler (compile: FastifySchemaCompiler<FastifySchema>): FastifySchemaCompiler<FastifySchema> {
  return (route) => {
    let check: ReturnType<FastifySchemaCompiler<FastifySchema>> | undefined
    return (value: unknown) => {
      check ??= compile(route)
      return check(value)
    }
  }
}

/**
 * The serialiser compiler this context would have used (the host's, when it set one; otherwise
 * Fastify's default, fast-json-stringify through the very copy of its compiler factory that the
 * host's fastify loads), compiling on the first response instead of at ready.
 */
export function useLazySerializers (fastify: FastifyInstance): void {
  const host = fastify.serializerCompiler as Build | null | undefined
  let build: Build | null = host ?? null
  const defaultBuild = (): Build => {
    // Resolved from fastify's own location, so it is the copy (and version) Fastify itself uses.
    const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
    const { SerializerSelector } = fromFastify('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => (schemas: unknown, opts: unknown) => Build }
    // The host's `serializerOpts` are not readable from a plugin; the plugin's schemas need none.
    return SerializerSelector()(fastify.getSchemas(), {})
  }
  fastify.setSerializerCompiler((route) => {
    let serialize: Serializer | undefined
    return (data: unknown) => {
      build ??= defaultBuild()
      serialize ??= build(route)
      return serialize(data)
    }
  })
}
