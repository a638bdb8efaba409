/** What the limiters know about the request they are admitting. Never holds a token. */
export interface LimiterContext {
  /** Hash of the credential. */
  tokenId: string
  method: string
  /** Route template. */
  route: string
  /** Top-level resource of the route (`global` when none). */
  major: string
  signal?: AbortSignal | undefined
}

/** A pre-emptive wait, reported through the client's `wait` event. */
export interface WaitNotice {
  reason: 'bucket' | 'global' | 'globalPause'
  waitMs: number
  bucket?: string | undefined
}
