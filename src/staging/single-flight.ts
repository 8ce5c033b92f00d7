interface Flight<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
  settled: boolean;
}

/**
 * One run per key at a time: concurrent callers of a key share it, its result and its
 * failure. A caller whose signal aborts stops waiting at once, with the signal's reason;
 * the run itself is aborted only when every caller waiting for it has gone.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();

  /** @param abandoned why a run is aborted when nobody waits for it any more */
  constructor(private readonly abandoned: string) {}

  /** Whether a run of `key` is under way. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Joins the run of `key`, starting it with `start` when there is none. */
  run(key: string, start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    // No await between the lookup and the insert: concurrent callers find the same flight.
    const flight = this.#flights.get(key) ?? this.#launch(key, start);
    return this.#wait(flight, signal);
  }

  #launch(key: string, start: (signal: AbortSignal) => Promise<T>): Flight<T> {
    const controller = new AbortController();
    const flight: Flight<T> = { promise: start(controller.signal), controller, waiters: 0, settled: false };
    this.#flights.set(key, flight);
    flight.promise
      .finally(() => {
        flight.settled = true;
        this.#flights.delete(key);
      })
      .catch(() => undefined); // each waiter sees the rejection; the flight itself needs no handler
    return flight;
  }

  async #wait(flight: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    flight.waiters += 1;
    try {
      return signal ? await raceAbort(flight.promise, signal) : await flight.promise;
    } finally {
      flight.waiters -= 1;
      // Nobody wants it any more: stop the run.
      if (flight.waiters === 0 && !flight.settled) flight.controller.abort(new Error(this.abandoned));
    }
  }
}

/** Resolves with the flight's result, or rejects early with `signal`'s reason. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
