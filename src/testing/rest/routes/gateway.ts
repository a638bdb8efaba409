import type { SimContext } from '../../context.js'
import type { ApiRouter } from '../request.js'

/* docs/gateway.mdx "Get Gateway" (no authentication) and "Get Gateway Bot" (a bot token). */

export function registerGatewayRoutes (sim: SimContext, router: ApiRouter): void {
  router.route({ route: 'GET /gateway', auth: 'none' }, async () => ({ url: sim.gateway.url }))
  router.route({ route: 'GET /gateway/bot', auth: 'bot' }, async () => sim.gateway.botInfo())
}
