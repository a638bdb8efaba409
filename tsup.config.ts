import { cp, writeFile } from 'node:fs/promises'
import { defineConfig, type Options } from 'tsup'

/*
 * Two builds. The package itself (`.` and `./testing`, ESM + CJS + declarations), and the
 * standalone server behind the `fastify-discord-sync` bin and `npm start`, built from
 * examples/standalone into dist/standalone. The server imports the package's public entry points
 * only; here they are rewritten to the built bundles next to it, so the bin runs the very code a
 * host installs instead of a second copy of the plugin.
 */

/** The package: `.` and `./testing` (test/store/driver-loading.test.ts builds the root with it). */
export const packageBuild: Options = {
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts'
  },
  format: ['esm', 'cjs'],
  // `npm start` builds what it runs and skips the declarations (scripts/ensure-built.mjs).
  dts: process.env.TSUP_SKIP_DTS !== '1',
  sourcemap: true,
  // dist/standalone belongs to the other build, which runs at the same time and cleans it itself.
  clean: ['**/*', '!standalone/**'],
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
  // Except TypeBox (and its Fastify validator glue): its ESM build is ~250 modules, and Node's
  // ESM loader resolving, reading and linking them one by one was a third of the standalone
  // server's start (issue 16, part 4). Bundled, only the parts used remain, in the one file.
  // Schemas stay interchangeable with a host's own TypeBox (they are plain JSON Schema tagged
  // with Symbol.for keys); the declarations still import the types from the package.
  //
  // And p-limit (with yocto-queue, two small files): it is ESM only, and a CommonJS bundle's
  // require() of it gets its module namespace, whose `default` esbuild's Node-mode interop then
  // wraps once more (`pLimit is not a function` on the first sync). Bundled, both builds call it directly.
  noExternal: [/^@sinclair\/typebox(\/|$)/, /^@fastify\/type-provider-typebox$/, /^p-limit$/, /^yocto-queue$/],
  // The admin UI's static files ship beside the bundle (dist/admin-ui/public), inside package "files".
  async onSuccess () {
    await cp('src/admin-ui/public', 'dist/admin-ui/public', { recursive: true })
  }
}

/** `../../src/index.js` → `../index.cjs` (dist/index.cjs), `../../src/testing/index.js` → `../testing/index.cjs`. */
const PUBLIC_ENTRIES: Record<string, string> = {
  '../../src/index.js': '../index.cjs',
  '../../src/testing/index.js': '../testing/index.cjs'
}

/*
 * The server is CommonJS and runs the package's CommonJS build: Node compiles the ~1 MB bundle
 * noticeably faster (and keeps less of it in memory) as a CommonJS module than as an ES module,
 * which made a fifth of the standalone server's start-up cost over bare Fastify (issue 16, part 4).
 * Both builds are the same sources and are tested alike; hosts pick theirs as before. The bin
 * keeps its name: a package.json beside it marks dist/standalone as CommonJS.
 */
const standaloneBuild: Options = {
  entry: { server: 'examples/standalone/server.ts' },
  outDir: 'dist/standalone',
  format: ['cjs'],
  outExtension: () => ({ js: '.js' }),
  dts: false,
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: false,
  skipNodeModulesBundle: true,
  banner: { js: '#!/usr/bin/env node' },
  async onSuccess () {
    await writeFile('dist/standalone/package.json', `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`)
  },
  esbuildPlugins: [{
    name: 'public-entries',
    setup (build) {
      build.onResolve({ filter: /\/src\/(testing\/)?index\.js$/ }, (args) => {
        const target = PUBLIC_ENTRIES[args.path]
        if (target === undefined) throw new Error(`examples/standalone may import the package's public entries only (${args.path} from ${args.importer})`)
        return { path: target, external: true }
      })
      build.onResolve({ filter: /\/src\// }, (args) => {
        throw new Error(`examples/standalone may import the package's public entries only (${args.path} from ${args.importer})`)
      })
    }
  }]
}

export default defineConfig([packageBuild, standaloneBuild])
