import { cp } from 'node:fs/promises'
import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts'
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  // CommonJS consumers get the plugin itself from require() (the Fastify convention:
  // `fastify.register(require('fastify-discord-sync'))`), with `.default` and every named
  // export attached, so `require(...).default` and destructuring keep working too.
  footer: ({ format }) => format === 'cjs'
    ? { js: 'if (module.exports.default) module.exports = Object.assign(module.exports.default, module.exports)' }
    : {},
  // import.meta.url in the CommonJS build: the admin UI finds its assets relative to the bundle.
  shims: true,
  // Runtime dependencies stay external so the host's copies (and native builds) are used.
  skipNodeModulesBundle: true,
  // The admin UI's static files ship beside the bundle (dist/admin-ui/public), inside package "files".
  async onSuccess () {
    await cp('src/admin-ui/public', 'dist/admin-ui/public', { recursive: true })
  }
})
