// @ts-check
/*
 * Ids as secondary text: a user, guild or role is labelled by its name; its Discord id follows,
 * small and selectable for copying. `data-secondary-id` marks it so the browser tests
 * (test/e2e/helpers/a11y.ts) can tell it from an id shown where a name belongs.
 */
import { h } from '../dom.js'

/**
 * @param {string} id
 * @param {'span' | 'dd' | 'div'} [tag]
 */
export function secondaryId (id, tag = 'span') {
  return h(tag, { class: 'mono id-secondary', 'data-secondary-id': '', title: 'Select to copy' }, id)
}
