import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../../schemas/common.js'
import { WEBHOOK_BODY_LIMIT, type WebhookEvents } from '../../live/webhook-events.js'

/*
 * POST /webhooks/events: Discord's Webhook Events URL (set it in the Developer Portal, Webhooks
 * page). Public: the Ed25519 signature is the authentication, so the body must reach the
 * verifier byte for byte; this context reads it as a Buffer instead of the plugin's JSON parser.
 */

const header = (value: string | string[] | undefined): string | undefined => typeof value === 'string' ? value : undefined

const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookEvents }> = async (fastify, { webhooks }) => {
  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => { done(null, body) })

  fastify.post('/webhooks/events', {
    bodyLimit: WEBHOOK_BODY_LIMIT,
    schema: {
      tags: ['discord'],
      summary: 'Discord Webhook Events (signed): PING, and APPLICATION_DEAUTHORIZED removes the link and its managed roles',
      headers: Type.Object({
        'x-signature-ed25519': Type.Optional(Type.String({ maxLength: 256 })),
        'x-signature-timestamp': Type.Optional(Type.String({ maxLength: 32 }))
      }),
      response: {
        204: Type.Null({ description: 'Acknowledged (PING, a handled event, or an event type this plugin ignores)' }),
        400: ErrorResponse,
        401: ErrorResponse,
        413: ErrorResponse,
        415: ErrorResponse,
        429: ErrorResponse,
        503: ErrorResponse
      }
    }
  }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    await webhooks.receive({
      signature: header(request.headers['x-signature-ed25519']),
      timestamp: header(request.headers['x-signature-timestamp']),
      body
    })
    return reply.code(204).send(null)
  })
}

export default webhookRoutes
