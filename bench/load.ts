import autocannon from "autocannon";

/** One request of a run, built the moment it is sent. */
export type Outgoing = {
  body: string;
  headers: Record<string, string>;
  /** What the answer is about (an event id…), handed back with it. */
  tag: string;
};

export type LoadOptions = {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration: number;
  /** Exactly this many requests, however long they take. */
  amount?: number;
  next: () => Outgoing;
  onAnswer?: (
    tag: string,
    status: number,
    headers: Record<string, unknown>,
  ) => void;
};

/** What one stretch of load measured. */
export type Slice = {
  seconds: number;
  /** Every answer's latency, in milliseconds. */
  latencies: number[];
  errors: number;
  timeouts: number;
};

/** Slices of one scenario, added up. */
export type LoadResult = {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  timeouts: number;
};

/**
 * Drives `url` with POSTs from this process, one request in flight per
 * connection, and bounded: it stops after `duration` seconds or `amount`
 * requests. Every request is a fresh one from `next()`.
 */
export function drive(options: LoadOptions): Promise<Slice> {
  const url = new URL(options.url);
  // autocannon hands each request's context to its answer; the tag rides on
  // it, so answers are matched to requests without trusting their order.
  const tags = new WeakMap<object, string>();
  const latencies: number[] = [];
  // autocannon stops at its next one-second tick, so its own duration can
  // count up to a second of idling: the slice lasts until its last answer.
  const started = performance.now();
  let lastAnswer = started;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: url.origin,
        connections: options.connections,
        pipelining: 1,
        timeout: 30,
        ...(options.amount !== undefined
          ? { amount: options.amount }
          : { duration: options.duration }),
        requests: [
          {
            method: "POST",
            path: `${url.pathname}${url.search}`,
            setupRequest(request, context) {
              const outgoing = options.next();
              tags.set(context, outgoing.tag);
              return {
                ...request,
                headers: { ...request.headers, ...outgoing.headers },
                body: outgoing.body,
              };
            },
            onResponse(status, _body, context, headers) {
              const tag = tags.get(context);
              if (tag !== undefined) {
                options.onAnswer?.(tag, status, headers ?? {});
              }
            },
          },
        ],
      },
      (error, result) => {
        if (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        resolve({
          seconds: (lastAnswer - started) / 1000,
          latencies,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on("response", (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
      lastAnswer = performance.now();
    });
  });
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil(fraction * sorted.length) - 1),
  );
  return sorted[index] ?? 0;
}

export function combine(slices: Slice[]): LoadResult {
  const latencies = slices
    .flatMap((slice) => slice.latencies)
    .sort((a, b) => a - b);
  const seconds = slices.reduce((sum, slice) => sum + slice.seconds, 0);
  const requests = latencies.length;
  return {
    requests,
    seconds,
    rps: seconds > 0 ? requests / seconds : 0,
    p50Ms: Math.round(percentile(latencies, 0.5) * 10) / 10,
    p99Ms: Math.round(percentile(latencies, 0.99) * 10) / 10,
    maxMs: Math.round((latencies[latencies.length - 1] ?? 0) * 10) / 10,
    errors: slices.reduce((sum, slice) => sum + slice.errors, 0),
    timeouts: slices.reduce((sum, slice) => sum + slice.timeouts, 0),
  };
}
