/** A page request. `page` starts at 1; `page_size` is clamped to `MAX_PAGE_SIZE`. */
export interface PageQuery {
  page?: number
  page_size?: number
}

export interface Page<T> {
  items: T[]
  total: number
  page: number
  page_size: number
}

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

/** Normalise a page request the same way in every adapter. */
export function normalisePage (q: PageQuery = {}): { page: number, page_size: number, offset: number } {
  const page = Number.isInteger(q.page) && (q.page as number) >= 1 ? (q.page as number) : 1
  const requested = Number.isInteger(q.page_size) && (q.page_size as number) >= 1 ? (q.page_size as number) : DEFAULT_PAGE_SIZE
  const page_size = Math.min(requested, MAX_PAGE_SIZE)
  return { page, page_size, offset: (page - 1) * page_size }
}

/** How many runs a list returns: `limit` when a positive integer (at most MAX_PAGE_SIZE), else 20. */
export function runListLimit (limit: number | undefined): number {
  return Number.isInteger(limit) && (limit as number) >= 1 ? Math.min(limit as number, MAX_PAGE_SIZE) : 20
}
