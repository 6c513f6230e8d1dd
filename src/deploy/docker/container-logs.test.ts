import { describe, expect, it } from "vitest";
import { demuxLogLines } from "./container-logs.js";

/** One frame of Docker's multiplexed stream: stream byte, three zeros, big-endian size, payload. */
function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

// "é" is two bytes in UTF-8; the first frame ends after its first byte.
const CAFE = Buffer.from("café\n", "utf8");

describe("demuxLogLines", () => {
  it.each<[string, Buffer, string[]]>([
    ["nothing", Buffer.alloc(0), []],
    ["one stdout line", frame(1, "listening on :3000\n"), ["listening on :3000"]],
    [
      "stdout and stderr interleaved, in the order written",
      Buffer.concat([frame(1, "starting\n"), frame(2, "boom\n"), frame(1, "bye\n")]),
      ["starting", "boom", "bye"],
    ],
    ["several lines in one frame", frame(1, "a\nb\nc\n"), ["a", "b", "c"]],
    [
      "a line written in two parts stays one line, even with the other stream in between",
      Buffer.concat([frame(1, "hel"), frame(2, "err\n"), frame(1, "lo\n")]),
      ["err", "hello"],
    ],
    ["a last line without a newline is kept", frame(2, "exit 3"), ["exit 3"]],
    ["CRLF line ends lose the CR", frame(1, "windows\r\n"), ["windows"]],
    ["empty lines are kept", frame(1, "a\n\nb\n"), ["a", "", "b"]],
    [
      "a character split across frames",
      Buffer.concat([frame(1, CAFE.subarray(0, 4)), frame(1, CAFE.subarray(4))]),
      ["café"],
    ],
    [
      "a truncated last frame keeps what arrived",
      frame(1, "complete\npartial line").subarray(0, 8 + 13),
      ["complete", "part"],
    ],
  ])("%s", (_name, input, expected) => {
    expect(demuxLogLines(input)).toEqual(expected);
  });
});
