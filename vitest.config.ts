import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: suites that run servers on loopback are more stable with a small pool.
    maxWorkers: 2,
    reporters: ['default'],
    setupFiles: []
  }
})
