import { describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { discordErrorHandler } from '../src/routes/error-handler.js'
import { NotFoundError, StoreUnavailableError } from '../src/errors.js'

async function app () {
  const a = Fastify({ logger: false })
  a.setErrorHandler(discordErrorHandler)
  a.post('/v', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async () => ({ ok: true }))
  a.get('/missing', async () => { throw new NotFoundError('guild 1 not found') })
  a.get('/store', async () => { throw new StoreUnavailableError('sqlite closed') })
  a.get('/boom', async () => { throw new Error('connect ECONNREFUSED mongodb://admin:hunter2@db') })
  return a
}

describe('route error handler', () => {
  it('turns schema validation into 400 FST_DISCORD_VALIDATION', async () => {
    const a = await app()
    const res = await a.inject({ method: 'POST', url: '/v', payload: { n: 'x' } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'FST_DISCORD_VALIDATION', error: 'Bad Request' })
    expect(res.json().message).toMatch(/^Invalid body: /)
  })

  it('turns malformed JSON into a 400 with its code', async () => {
    const a = await app()
    const res = await a.inject({ method: 'POST', url: '/v', headers: { 'content-type': 'application/json' }, payload: '{"n":' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toMatch(/^FST_ERR_CTP_/)
  })

  it('keeps our stable codes and statuses', async () => {
    const a = await app()
    expect((await a.inject({ url: '/missing' })).json()).toEqual({ statusCode: 404, code: 'FST_DISCORD_NOT_FOUND', error: 'Not Found', message: 'guild 1 not found' })
    expect((await a.inject({ url: '/store' })).json()).toMatchObject({ statusCode: 503, code: 'FST_DISCORD_STORE_UNAVAILABLE' })
  })

  it('hides unexpected errors behind a generic 500', async () => {
    const a = await app()
    const res = await a.inject({ url: '/boom' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ statusCode: 500, code: 'FST_DISCORD_INTERNAL', error: 'Internal Server Error', message: 'Internal error' })
    expect(res.body).not.toContain('hunter2')
  })
})
