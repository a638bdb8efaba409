import { spawn, type ChildProcess } from 'node:child_process'
import { describe, expect, it } from 'vitest'

/*
 * The one command of the host example (`npx tsx examples/host/server.ts`) starts, serves the
 * plugin and the host's own API side by side, lets an officer promote a member, and exits 0 on
 * SIGTERM. What the promotion does to Discord roles is followed in host.test.ts, in process.
 */

function waitForOutput (child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output:\n${seen}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString()
      const m = seen.match(pattern)
      if (m !== null) { clearTimeout(timer); resolve(m) }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}; output:\n${seen}`)) })
  })
}

describe('npx tsx examples/host/server.ts', () => {
  it('boots against the simulator, serves host and plugin, and shuts down cleanly', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/host/server.ts'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const promote = await waitForOutput(child, /(http:\/\/127\.0\.0\.1:\d+)\/api\/groups\/officers\/members\/([0-9a-f-]{36})/, 60_000)
      const [, base, aliceId] = promote as unknown as [string, string, string]
      const status = await fetch(`${base}/api/discord/status`)
      expect(status.status).toBe(200)
      expect(await status.json()).toMatchObject({ status: 'healthy', checks: { discord: 'configured' } })

      const login = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'olivia', password: 'olivia-password' }) })
      expect(login.status).toBe(200)
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string
      expect(cookie).toMatch(/^falcon_auth_token=/)
      // The host's session works on the plugin's admin routes: the guild the example configured.
      const guilds = await fetch(`${base}/api/discord/guilds`, { headers: { cookie } })
      expect(await guilds.json()).toMatchObject({ total: 1 })
      const edit = await fetch(`${base}/api/groups/officers/members/${aliceId}`, { method: 'PUT', headers: { cookie, 'x-requested-with': 'test' } })
      expect(await edit.json()).toMatchObject({ changed: true, sync: { queued: 1 } })
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  }, 90_000)
})
