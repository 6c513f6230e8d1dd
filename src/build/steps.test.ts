import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EngineMessage } from "../docker/engine-stream.js";
import { imageIdOf } from "./build-image.js";
import { decodeTraceAux } from "./buildkit-status.js";
import { type BuildEvent, OUTPUT_TAIL_LINES, StepRecorder } from "./steps.js";

function replay(fixture: string): {
  recorder: StepRecorder;
  events: BuildEvent[];
  messages: EngineMessage[];
} {
  const messages = readFileSync(new URL(`./fixtures/${fixture}`, import.meta.url), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as EngineMessage);
  const events: BuildEvent[] = [];
  const recorder = new StepRecorder((event) => events.push(event));
  for (const message of messages) {
    if (message.id === "moby.buildkit.trace" && typeof message.aux === "string") {
      recorder.apply(decodeTraceAux(message.aux));
    }
  }
  return { recorder, events, messages };
}

const VERTEX = (
  name: string,
  extra: Partial<import("./buildkit-status.js").VertexUpdate> = {},
) => ({
  digest: `sha256:${name}`,
  inputs: [],
  name,
  cached: false,
  ...extra,
});
const EMPTY = { vertexes: [], statuses: [], logs: [], warnings: [] };

describe("StepRecorder", () => {
  it("records a failed RUN from a real Docker 20.10 stream: name, error, output", () => {
    const { recorder, events } = replay("failed-run.jsonl");
    const failed = recorder.failedStep();
    expect(failed).toEqual({
      id: "sha256:13deaa6240e802f52cbc87ed9f0f766cfa64aab72fb9465d07f0b97cd61c9155",
      name: "[2/2] RUN echo line-one && echo line-two >&2 && false",
      internal: false,
      cached: false,
      startedAt: new Date(1_795_726_807_857).toISOString(),
      completedAt: new Date(1_795_726_808_026).toISOString(),
      durationMs: 169,
      error:
        "executor failed running [/bin/sh -c echo line-one && echo line-two >&2 && false]: exit code: 1",
    });
    expect(recorder.output(failed?.id ?? "")).toEqual(["line-one", "line-two"]);
    expect(recorder.steps().map((step) => [step.name, step.internal])).toEqual([
      ["[internal] load remote build context", true],
      ["copy /context /", true],
      ["[internal] load metadata for docker.io/skiff-test/busybox:1", true],
      ["[1/2] FROM docker.io/skiff-test/busybox:1", false],
      ["[2/2] RUN echo line-one && echo line-two >&2 && false", false],
    ]);
    const logs = events.filter((event) => event.type === "log");
    expect(logs).toEqual([
      { type: "log", stepId: failed?.id, stream: "stdout", text: "line-one\n" },
      { type: "log", stepId: failed?.id, stream: "stderr", text: "line-two\n" },
    ]);
  });

  it("records cached steps of a real build that used --cache-from", () => {
    const { recorder, messages } = replay("cache-from-build.jsonl");
    const run = recorder.steps().filter((step) => !step.internal);
    expect(run.map((step) => [step.name, step.cached])).toEqual([
      ["[1/3] FROM docker.io/skiff-test/busybox:1", false],
      ["[2/3] RUN echo expensive-1447612171 && sleep 3 && echo 1447612171 > /tok.txt", true],
      ["[3/3] RUN echo cheap > /c.txt", true],
    ]);
    expect(recorder.steps().some((s) => s.name.startsWith("importing cache manifest from"))).toBe(
      true,
    );
    expect(messages.map(imageIdOf).filter(Boolean)).toEqual([
      "sha256:26c067384e4e57a5d7a316e2faec5b3f0e66ff7d15ffa219938c2f501959474c",
    ]);
  });

  it("emits a step event on start, on completion and when cached, not for repeats", () => {
    const events: BuildEvent[] = [];
    const recorder = new StepRecorder((event) => events.push(event));
    const run = "[2/2] RUN make";
    recorder.apply({ ...EMPTY, vertexes: [VERTEX(run)] }); // declared: no event
    recorder.apply({ ...EMPTY, vertexes: [VERTEX(run, { started: 1000 })] });
    recorder.apply({ ...EMPTY, vertexes: [VERTEX(run, { started: 1000 })] }); // repeat
    recorder.apply({ ...EMPTY, vertexes: [VERTEX(run, { started: 1000, completed: 3500 })] });
    const cached = "[1/2] FROM base";
    recorder.apply({
      ...EMPTY,
      vertexes: [VERTEX(cached, { cached: true, started: 900, completed: 900 })],
    });
    expect(events).toEqual([
      {
        type: "step",
        step: {
          id: "sha256:[2/2] RUN make",
          name: run,
          internal: false,
          cached: false,
          startedAt: "1970-01-01T00:00:01.000Z",
        },
      },
      {
        type: "step",
        step: {
          id: "sha256:[2/2] RUN make",
          name: run,
          internal: false,
          cached: false,
          startedAt: "1970-01-01T00:00:01.000Z",
          completedAt: "1970-01-01T00:00:03.500Z",
          durationMs: 2500,
        },
      },
      {
        type: "step",
        step: {
          id: "sha256:[1/2] FROM base",
          name: cached,
          internal: false,
          cached: true,
          startedAt: "1970-01-01T00:00:00.900Z",
          completedAt: "1970-01-01T00:00:00.900Z",
          durationMs: 0,
        },
      },
    ]);
    // Dockerfile steps come in their [N/M] order, whatever order BuildKit named them in
    expect(recorder.steps().map((step) => step.name)).toEqual([cached, run]);
  });

  it("keeps the last OUTPUT_TAIL_LINES lines, joining lines split across messages", () => {
    const recorder = new StepRecorder();
    const id = "sha256:[1/1] RUN x";
    const text = Array.from({ length: 80 }, (_, i) => `line ${i + 1}`).join("\n");
    // split mid-line on purpose
    for (const part of [text.slice(0, 33), text.slice(33), "\n"]) {
      recorder.apply({ ...EMPTY, logs: [{ vertex: id, stream: 1, msg: Buffer.from(part) }] });
    }
    const output = recorder.output(id);
    expect(output).toHaveLength(OUTPUT_TAIL_LINES);
    expect(output[0]).toBe("line 31");
    expect(output.at(-1)).toBe("line 80");
  });

  it("keeps internal steps where they were first named", () => {
    const recorder = new StepRecorder();
    const names = [
      "[internal] load remote build context",
      "[builder 3/4] RUN make",
      "[internal] load metadata for docker.io/library/node:20",
      "[builder 1/4] FROM node:20",
      "[stage-1 4/4] COPY --from=builder /app /app",
      "[builder 2/4] COPY . .",
      "exporting to image",
    ];
    recorder.apply({ ...EMPTY, vertexes: names.map((name) => VERTEX(name)) });
    expect(recorder.steps().map((step) => step.name)).toEqual([
      "[internal] load remote build context",
      "[builder 1/4] FROM node:20",
      "[internal] load metadata for docker.io/library/node:20",
      "[builder 2/4] COPY . .",
      "[builder 3/4] RUN make",
      "[stage-1 4/4] COPY --from=builder /app /app",
      "exporting to image",
    ]);
  });

  it("prefers a Dockerfile step over an internal one as the failed step", () => {
    const recorder = new StepRecorder();
    recorder.apply({
      ...EMPTY,
      vertexes: [
        VERTEX("exporting to image", { error: "cancelled" }),
        VERTEX("[3/3] RUN false", { error: "exit code: 1" }),
      ],
    });
    expect(recorder.failedStep()?.name).toBe("[3/3] RUN false");
  });
});
