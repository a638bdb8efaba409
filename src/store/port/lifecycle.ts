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
  /**
   * A token that differs from every earlier one whenever stored data may have changed since
   * (a commit by this process or by any other on the same database). The plugin keeps rendered
   * list pages while it stays the same (the `readCache` option), so it is called once per read
   * request: synchronous and cheap. Leave it out when the backend cannot tell cheaply and
   * exactly (the MongoDB adapter does): pages are then built per request.
   */
  changeMark? (): string
}
