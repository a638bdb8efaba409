import { describe, expect, it, vi } from 'vitest'
import { DiscordSyncEvents } from '../../src/events.js'

function bus (): { events: DiscordSyncEvents, errors: unknown[] } {
  const errors: unknown[] = []
  const log = { error: (obj: unknown) => { errors.push(obj) } } as never
  return { events: new DiscordSyncEvents(log), errors }
}

const linked = { flow: 'login' as const, user_id: 'u1', discord_user_id: '80351110224678912' }

describe('DiscordSyncEvents', () => {
  it('delivers to every listener in subscription order, synchronously, with a frozen copy', () => {
    const { events } = bus()
    const seen: string[] = []
    events.on('account.linked', (e) => { seen.push(`a:${e.user_id}`) })
    events.on('account.linked', (e) => {
      seen.push(`b:${e.user_id}`)
      expect(Object.isFrozen(e)).toBe(true)
    })
    events.emit('account.linked', linked)
    expect(seen).toEqual(['a:u1', 'b:u1'])
  })

  it('keeps events apart by name and stops delivering after unsubscribe', () => {
    const { events } = bus()
    const fn = vi.fn()
    const off = events.on('account.linked', fn)
    events.emit('oauth.failed', { flow: 'callback', code: 'FST_DISCORD_OAUTH_DENIED' })
    expect(fn).not.toHaveBeenCalled()
    events.emit('account.linked', linked)
    off()
    events.emit('account.linked', linked)
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('never lets a listener affect the emitter: a throw or a rejection is logged and the others still run', async () => {
    const { events, errors } = bus()
    const after = vi.fn()
    events.on('account.unlinked', () => { throw Object.assign(new Error('boom'), { code: 'X' }) })
    events.on('account.unlinked', async () => { throw new Error('async boom') })
    events.on('account.unlinked', after)
    expect(() => events.emit('account.unlinked', { user_id: 'u', discord_user_id: '1', initiated_by: 'unlink:u', role_removal: { queued: false, sync_run_id: null, guild_ids: [] } })).not.toThrow()
    expect(after).toHaveBeenCalledTimes(1)
    await vi.waitFor(() => expect(errors).toHaveLength(2))
    expect(errors[0]).toMatchObject({ event: 'account.unlinked', err: { message: 'boom', code: 'X' } })
  })

  it('next() resolves with the first matching event, then unsubscribes without disturbing its neighbours', async () => {
    const { events } = bus()
    const other = vi.fn()
    const waiting = events.next('account.linked', (e) => e.user_id === 'u2')
    events.on('account.linked', other)
    events.emit('account.linked', linked)
    events.emit('account.linked', { ...linked, user_id: 'u2' })
    await expect(waiting).resolves.toMatchObject({ user_id: 'u2' })
    events.emit('account.linked', { ...linked, user_id: 'u3' })
    expect(other).toHaveBeenCalledTimes(3)
  })
})
