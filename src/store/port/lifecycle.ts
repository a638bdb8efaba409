/** What every store does apart from its aggregates: name itself, prepare, answer, let go. */
export interface StoreLifecycle {
  /** Which backend this is ('sqlite' | 'mongodb'), for logs and status. */
  readonly kind: string

  /** Run migrations / create indexes. Idempotent; called once by the plugin before use. */
  init (): Promise<void>
  /** Cheap reachability check for the status route; throws when unreachable. */
  ping (): Promise<void>
  /** Close what the adapter opened itself; a client passed in by the host stays open. */
  close (): Promise<void>
}
