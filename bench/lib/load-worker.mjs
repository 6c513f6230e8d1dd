// httpLoad (load.mjs) in a worker thread of its own: what the benchmark
// does meanwhile on its main thread (spawning git, reading a run's event
// journal, parsing JSON) never delays the load's requests or the moment
// their answers are timed. Same interface as httpLoad: now() and stop().

import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { httpLoad } from "./load.mjs";

if (!isMainThread && workerData?.httpLoadWorker) {
  const { tagPattern, ...options } = workerData.options;
  const pattern = tagPattern ? new RegExp(tagPattern) : undefined;
  const load = httpLoad({
    ...options,
    ...(pattern ? { pick: (body) => pattern.exec(body)?.[1] } : {}),
  });
  parentPort.postMessage({ startedAt: performance.timeOrigin + performance.now() - load.now() });
  parentPort.once("message", async () => parentPort.postMessage({ result: await load.stop() }));
}

/**
 * Starts httpLoad's options in a worker; `tagPattern` (a regular
 * expression's source with one group) stands for `pick`, which cannot cross
 * threads: each answer's tag is its first match.
 */
export async function httpLoadInWorker(options) {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { httpLoadWorker: true, options },
  });
  const { startedAt } = await nextMessage(worker);
  return {
    /** Milliseconds since the load started, on the worker's clock. */
    now: () => performance.timeOrigin + performance.now() - startedAt,
    async stop() {
      worker.postMessage("stop");
      const { result } = await nextMessage(worker);
      await worker.terminate();
      return result;
    },
  };
}

function nextMessage(worker) {
  return new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}
