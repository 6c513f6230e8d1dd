import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeStatusResponse, decodeTraceAux } from "./buildkit-status.js";
import { ProtobufError, readVarint } from "./protobuf.js";

/** A tiny protobuf encoder, so fixtures are written field by field. */
const enc = {
  varint(value: number): number[] {
    const out: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      out.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    out.push(rest);
    return out;
  },
  key(field: number, wireType: number): number[] {
    return enc.varint(field * 8 + wireType);
  },
  int(field: number, value: number): number[] {
    return [...enc.key(field, 0), ...enc.varint(value)];
  },
  bytes(field: number, value: number[] | string): number[] {
    const bytes = typeof value === "string" ? [...Buffer.from(value, "utf8")] : value;
    return [...enc.key(field, 2), ...enc.varint(bytes.length), ...bytes];
  },
  timestamp(field: number, ms: number): number[] {
    return enc.bytes(field, [
      ...enc.int(1, Math.floor(ms / 1000)),
      ...enc.int(2, (ms % 1000) * 1_000_000 + 123),
    ]);
  },
};

const DIGEST = `sha256:${"a".repeat(64)}`;
const INPUT = `sha256:${"b".repeat(64)}`;

describe("decodeStatusResponse on hand-built bytes", () => {
  const vertex = [
    ...enc.bytes(1, DIGEST),
    ...enc.bytes(2, INPUT),
    ...enc.bytes(3, "[2/3] RUN npm ci"),
    ...enc.int(4, 1),
    ...enc.timestamp(5, 1_700_000_000_250),
    ...enc.timestamp(6, 1_700_000_001_750),
    ...enc.bytes(7, "exit code: 2"),
    // field 8 (progressGroup) is newer than Docker 20.10: must be skipped
    ...enc.bytes(8, [...enc.bytes(1, "group")]),
  ];
  const status = [
    ...enc.bytes(1, "pulling sha256:cc"),
    ...enc.bytes(2, DIGEST),
    ...enc.bytes(3, "pulling"),
    ...enc.int(4, 512),
    ...enc.int(5, 4096),
    ...enc.timestamp(6, 1_700_000_000_500),
    ...enc.timestamp(7, 1_700_000_000_400),
  ];
  const log = [
    ...enc.bytes(1, DIGEST),
    ...enc.timestamp(2, 1_700_000_000_600),
    ...enc.int(3, 2),
    ...enc.bytes(4, "npm ERR! missing script\n"),
  ];
  const warning = [
    ...enc.bytes(1, DIGEST),
    ...enc.int(2, 1),
    ...enc.bytes(3, "deprecated"),
    ...enc.bytes(4, "detail one"),
    ...enc.bytes(5, "https://example.test/why"),
  ];
  const message = [
    ...enc.bytes(1, vertex),
    ...enc.bytes(2, status),
    ...enc.bytes(3, log),
    ...enc.bytes(4, warning),
    // an unknown varint and an unknown fixed64 field in the top message
    ...enc.int(9, 7),
    ...enc.key(10, 1),
    ...[1, 2, 3, 4, 5, 6, 7, 8],
  ];

  it("reads every field of vertexes, statuses, logs and warnings", () => {
    const decoded = decodeStatusResponse(Uint8Array.from(message));
    expect(decoded).toEqual({
      vertexes: [
        {
          digest: DIGEST,
          inputs: [INPUT],
          name: "[2/3] RUN npm ci",
          cached: true,
          started: 1_700_000_000_250,
          completed: 1_700_000_001_750,
          error: "exit code: 2",
        },
      ],
      statuses: [
        {
          id: "pulling sha256:cc",
          vertex: DIGEST,
          name: "pulling",
          current: 512,
          total: 4096,
          timestamp: 1_700_000_000_500,
          started: 1_700_000_000_400,
        },
      ],
      logs: [
        {
          vertex: DIGEST,
          timestamp: 1_700_000_000_600,
          stream: 2,
          msg: Uint8Array.from(Buffer.from("npm ERR! missing script\n")),
        },
      ],
      warnings: [
        {
          vertex: DIGEST,
          level: 1,
          short: "deprecated",
          detail: ["detail one"],
          url: "https://example.test/why",
        },
      ],
    });
  });

  it("leaves unset fields out (a vertex only declared, not started)", () => {
    const declared = enc.bytes(1, [...enc.bytes(1, DIGEST), ...enc.bytes(3, "[1/3] FROM x")]);
    expect(decodeStatusResponse(Uint8Array.from(declared)).vertexes).toEqual([
      { digest: DIGEST, inputs: [], name: "[1/3] FROM x", cached: false },
    ]);
  });

  it("rejects truncated bytes with a ProtobufError", () => {
    expect(() => decodeStatusResponse(Uint8Array.from(message.slice(0, 40)))).toThrow(
      ProtobufError,
    );
  });

  it("reads multi-byte varints, including values past 32 bits", () => {
    expect(readVarint(Uint8Array.from(enc.varint(300)), 0)).toEqual({ value: 300, next: 2 });
    expect(readVarint(Uint8Array.from(enc.varint(1_795_726_807_857)), 0).value).toBe(
      1_795_726_807_857,
    );
  });
});

describe("decodeTraceAux on trace lines captured from Docker 20.10.24", () => {
  // A real `POST /build?version=2` stream of a Dockerfile whose step
  // `RUN echo line-one && echo line-two >&2 && false` fails.
  const lines = readFileSync(new URL("./fixtures/failed-run.jsonl", import.meta.url), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { id?: string; aux?: string });

  it("decodes the failing vertex with its timestamps and error", () => {
    const { aux } = lines[13] as { aux: string };
    expect(decodeTraceAux(aux)).toEqual({
      vertexes: [
        {
          digest: "sha256:13deaa6240e802f52cbc87ed9f0f766cfa64aab72fb9465d07f0b97cd61c9155",
          inputs: ["sha256:f6ebdc6f0efc98f832c3da69dde9fd471098ad7747eaf9c3efd84ad79ae6387e"],
          name: "[2/2] RUN echo line-one && echo line-two >&2 && false",
          cached: false,
          started: 1_795_726_807_857,
          completed: 1_795_726_808_026,
          error:
            "executor failed running [/bin/sh -c echo line-one && echo line-two >&2 && false]: exit code: 1",
        },
      ],
      statuses: [],
      logs: [],
      warnings: [],
    });
  });

  it("decodes the step's stdout log line", () => {
    const { aux } = lines[11] as { aux: string };
    const decoded = decodeTraceAux(aux);
    expect(decoded.logs).toHaveLength(1);
    expect(decoded.logs[0]).toMatchObject({
      vertex: "sha256:13deaa6240e802f52cbc87ed9f0f766cfa64aab72fb9465d07f0b97cd61c9155",
      stream: 1,
      timestamp: 1_795_726_808_015,
    });
    expect(Buffer.from(decoded.logs[0]?.msg ?? []).toString()).toBe("line-one\n");
  });

  it("decodes every trace line of the stream", () => {
    const traces = lines.filter((line) => line.id === "moby.buildkit.trace");
    expect(traces).toHaveLength(14);
    for (const line of traces) expect(() => decodeTraceAux(line.aux ?? "")).not.toThrow();
  });
});
