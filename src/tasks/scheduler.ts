import type { FastifyInstance } from 'fastify'
import fastifySchedule from '@fastify/schedule'
import { AsyncTask, SimpleIntervalJob, type ToadScheduler } from 'toad-scheduler'

const ownSchedulers = new WeakMap<FastifyInstance, ToadScheduler>()

/**
 * The scheduler jobs run on: the host's when it registered @fastify/schedule before us, otherwise
 * our own, registered in an encapsulated child so the host gets no `scheduler` decorator it did
 * not ask for (and @fastify/schedule stops it on close).
 */
export async function resolveScheduler (fastify: FastifyInstance): Promise<{ scheduler: ToadScheduler, own: boolean }> {
  const host = (fastify as unknown as { scheduler?: ToadScheduler }).scheduler
  if (fastify.hasDecorator('scheduler') && host !== undefined) return { scheduler: host, own: false }
  // Every task of one plugin instance shares one scheduler.
  const known = ownSchedulers.get(fastify)
  if (known !== undefined) return { scheduler: known, own: true }
  let own: ToadScheduler | null = null
  await fastify.register(async (child) => {
    await child.register(fastifySchedule)
    own = (child as unknown as { scheduler: ToadScheduler }).scheduler
  })
  ownSchedulers.set(fastify, own as unknown as ToadScheduler)
  return { scheduler: own as unknown as ToadScheduler, own: true }
}

/**
 * Adds an interval job once the server is ready (not during registration: a run must not start
 * before the store is initialised or while plugins still load), and removes it before the server
 * closes: a host-owned scheduler outlives us (our own is stopped by @fastify/schedule). The timer
 * is unref'd so it never keeps a process alive, and overlapping runs are prevented.
 */
export function scheduleOnReady (fastify: FastifyInstance, scheduler: ToadScheduler, id: string, intervalMs: number, run: () => Promise<unknown>, onError: (err: Error) => void): void {
  fastify.addHook('onReady', async () => {
    if (scheduler.existsById(id)) return
    scheduler.addSimpleIntervalJob(new SimpleIntervalJob(
      { milliseconds: intervalMs },
      new AsyncTask(id, async () => { await run() }, onError),
      { id, preventOverrun: true, unref: true }
    ))
  })
  fastify.addHook('preClose', async () => { if (scheduler.existsById(id)) scheduler.removeById(id) })
}
