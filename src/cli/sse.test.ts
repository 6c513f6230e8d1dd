import { describe, expect, it } from "vitest";
import { parseEventBlock, readServerSentEvents } from "./sse.js";

describe("Server-Sent Events", () => {
  it("parses fields, multi-line data and ignores comments", () => {
    expect(parseEventBlock('id: 3\nevent: log\ndata: {"a":1}')).toEqual({
      id: "3",
      event: "log",
      data: '{"a":1}',
    });
    expect(parseEventBlock("data: one\ndata: two")).toEqual({ event: "message", data: "one\ntwo" });
    expect(parseEventBlock(": keep-alive")).toBeUndefined();
  });

  it("yields events split across chunks as soon as each is complete", async () => {
    const encoder = new TextEncoder();
    const chunks = [
      "id: 1\nevent: log\nda",
      "ta: first\n\nid: 2\n",
      "event: run\ndata: second\n\n",
    ];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    });
    const events = [];
    for await (const event of readServerSentEvents(body)) events.push(event);
    expect(events).toEqual([
      { id: "1", event: "log", data: "first" },
      { id: "2", event: "run", data: "second" },
    ]);
  });
});
