import { parentPort, Worker, type WorkerOptions } from "node:worker_threads";

type Work<Args extends unknown[], Result> = (...args: Args) => Promise<Result>;

type Call = { id: number; args: unknown[] };
type Answer =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string };

/**
 * In a worker thread, answers the calls that `callsToWorker` sends it by
 * running `work`, several at a time as they come.
 */
export function serveCalls(work: Work<never[], unknown>): void {
  const port = parentPort;
  if (!port) throw new Error("serveCalls runs in a worker thread.");
  port.on("message", (call: Call) => {
    (work as Work<unknown[], unknown>)(...call.args).then(
      (result) => port.postMessage({ id: call.id, ok: true, result }),
      (error: unknown) =>
        port.postMessage({
          id: call.id,
          ok: false,
          message: error instanceof Error ? error.message : String(error),
        }),
    );
  });
}

/**
 * A function that runs in the worker thread of `file` (which calls
 * `serveCalls`), started on first use. Arguments and results cross by
 * structured clone. A failure in the worker rejects the call with an Error
 * of the same message; a worker that dies rejects its pending calls, and
 * the next call starts a new one.
 */
export function callsToWorker<Args extends unknown[], Result>(
  file: URL,
  name: string,
  options: Pick<WorkerOptions, "resourceLimits"> = {},
): Work<Args, Result> {
  let worker: Worker | null = null;
  let nextId = 0;
  const pending = new Map<
    number,
    { resolve: (result: unknown) => void; reject: (error: Error) => void }
  >();

  const start = (): Worker => {
    const started = new Worker(file, options);
    // Only pending calls keep the process alive (see below).
    started.unref();
    started.on("message", (answer: Answer) => {
      const call = pending.get(answer.id);
      if (!call) return;
      pending.delete(answer.id);
      if (pending.size === 0) started.unref();
      if (answer.ok) call.resolve(answer.result);
      else call.reject(new Error(answer.message));
    });
    const fail = (error: Error) => {
      if (worker === started) worker = null;
      for (const call of pending.values()) call.reject(error);
      pending.clear();
    };
    started.on("error", fail);
    started.on("exit", (code) => {
      fail(new Error(`The ${name} worker exited with code ${code}.`));
    });
    return started;
  };

  return (...args: Args) => {
    worker ??= start();
    const target = worker;
    const id = nextId++;
    return new Promise<Result>((resolve, reject) => {
      pending.set(id, {
        resolve: (result) => resolve(result as Result),
        reject,
      });
      if (pending.size === 1) target.ref();
      target.postMessage({ id, args } satisfies Call);
    });
  };
}
