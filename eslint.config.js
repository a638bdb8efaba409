import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'test-results/**'] }),
  {
    rules: {
      // The JSON API and the stored documents use the seed's snake_case field names.
      camelcase: 'off'
    }
  },
  {
    // The admin UI's modules run in the browser: the browser globals they use beyond neostandard's
    // (which has document, window and navigator, plus Node's).
    files: ['src/admin-ui/public/**/*.js'],
    languageOptions: {
      globals: {
        location: 'readonly',
        history: 'readonly',
        Node: 'readonly',
        RadioNodeList: 'readonly',
        HTMLButtonElement: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLSelectElement: 'readonly'
      }
    }
  }
]
