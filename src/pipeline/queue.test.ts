import { describe, expect, it } from "vitest";
import { PipelineQueue, type QueuedJob } from "./queue.js";

/** A job whose finish the test controls, recording what happened to it. */
function job(runId: number, app: string, log: string[]) {
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const queued: QueuedJob = {
    runId,
    app,
    execute: () => {
      log.push(`start ${runId}`);
      return done.then(() => {
        log.push(`end ${runId}`);
      });
    },
    supersede: (by) => log.push(`superseded ${runId} by ${by}`),
  };
  return { queued, finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("PipelineQueue", () => {
  it("runs one job per app at a time and a newer waiting job supersedes an older one", async () => {
    const log: string[] = [];
    const queue = new PipelineQueue(2);
    const a1 = job(1, "shop", log);
    const a2 = job(2, "shop", log);
    const a3 = job(3, "shop", log);
    queue.enqueue(a1.queued);
    queue.enqueue(a2.queued);
    queue.enqueue(a3.queued);
    expect(log).toEqual(["start 1", "superseded 2 by 3"]);
    a1.finish();
    await tick();
    expect(log).toEqual(["start 1", "superseded 2 by 3", "end 1", "start 3"]);
    a3.finish();
    await queue.idle();
    expect(log.at(-1)).toBe("end 3");
  });

  it("runs different apps in parallel up to the limit, then in the order they became ready", async () => {
    const log: string[] = [];
    const queue = new PipelineQueue(2);
    const jobs = [job(1, "a", log), job(2, "b", log), job(3, "c", log), job(4, "d", log)];
    for (const j of jobs) queue.enqueue(j.queued);
    expect(log).toEqual(["start 1", "start 2"]);
    jobs[1]?.finish();
    await tick();
    expect(log).toEqual(["start 1", "start 2", "end 2", "start 3"]);
    jobs[0]?.finish();
    await tick();
    expect(log.slice(-2)).toEqual(["end 1", "start 4"]);
    jobs[2]?.finish();
    jobs[3]?.finish();
    await queue.idle();
  });

  it("removes a waiting job that is cancelled before it starts", async () => {
    const log: string[] = [];
    const queue = new PipelineQueue(1);
    const first = job(1, "a", log);
    const second = job(2, "b", log);
    queue.enqueue(first.queued);
    queue.enqueue(second.queued);
    expect(queue.remove(2)).toBe(true);
    expect(queue.remove(2)).toBe(false);
    first.finish();
    await queue.idle();
    expect(log).toEqual(["start 1", "end 1"]);
  });

  it("a config change waits apart from code runs: neither replaces the other, and it runs after them", async () => {
    const log: string[] = [];
    const queue = new PipelineQueue(2);
    const running = job(1, "shop", log);
    const push = job(2, "shop", log);
    const change = job(3, "shop", log);
    const newerChange = job(4, "shop", log);
    const newerPush = job(5, "shop", log);
    queue.enqueue(running.queued);
    queue.enqueue(push.queued);
    queue.enqueue({ ...change.queued, kind: "config" });
    expect(log).toEqual(["start 1"]);
    // A newer change replaces the waiting change; a newer push the waiting push, and goes first.
    queue.enqueue({ ...newerChange.queued, kind: "config" });
    queue.enqueue(newerPush.queued);
    expect(log).toEqual(["start 1", "superseded 3 by 4", "superseded 2 by 5"]);
    running.finish();
    await tick();
    expect(log.slice(3)).toEqual(["end 1", "start 5"]);
    newerPush.finish();
    await tick();
    expect(log.slice(5)).toEqual(["end 5", "start 4"]);
    newerChange.finish();
    await queue.idle();
    expect(log.slice(7)).toEqual(["end 4"]);
  });

  it("removes a waiting config run and keeps the code run waiting beside it", async () => {
    const log: string[] = [];
    const queue = new PipelineQueue(1);
    const running = job(1, "shop", log);
    const push = job(2, "shop", log);
    const change = job(3, "shop", log);
    queue.enqueue(running.queued);
    queue.enqueue(push.queued);
    queue.enqueue({ ...change.queued, kind: "config" });
    expect(queue.remove(3)).toBe(true);
    running.finish();
    await tick();
    expect(log).toEqual(["start 1", "end 1", "start 2"]);
    push.finish();
    await queue.idle();
  });
});
