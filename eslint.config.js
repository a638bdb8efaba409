import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'test-results/**'] }),
  {
    rules: {
      // The JSON API and the stored documents use the seed's snake_case field names.
      camelcase: 'off'
    }
  }
]
