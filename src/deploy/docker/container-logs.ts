// The last lines a container wrote, for the reason of a failed deploy.

import type Docker from "dockerode";

/** The last `lines` lines of a container's stdout and stderr, in the order it wrote them. */
export async function containerLogTail(docker: Docker, id: string, lines = 50): Promise<string[]> {
  const container = docker.getContainer(id);
  const [info, raw] = await Promise.all([
    container.inspect(),
    container.logs({ stdout: true, stderr: true, tail: lines, follow: false }),
  ]);
  // With a TTY, Docker sends the bytes as they are; without one, in frames (see below).
  const all = info.Config.Tty ? splitLines(raw) : demuxLogLines(raw);
  return all.slice(-lines);
}

/**
 * Lines of a non-TTY log stream. Docker multiplexes stdout and stderr into
 * frames: 1 byte stream (0 stdin, 1 stdout, 2 stderr), 3 zero bytes, a
 * 4-byte big-endian payload size, then the payload (Engine API, "Attach to
 * a container": stream format). Each stream is split into lines on its own,
 * so a line written in two parts stays one line; lines are returned in the
 * order they were completed. A truncated last frame keeps what arrived.
 */
export function demuxLogLines(buffer: Buffer): string[] {
  const out: string[] = [];
  const partial = new Map<number, Buffer[]>();
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer.readUInt8(offset);
    const size = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, Math.min(offset + 8 + size, buffer.length));
    offset += 8 + size;
    let rest = payload;
    let newline = rest.indexOf(0x0a);
    while (newline >= 0) {
      const parts = partial.get(stream) ?? [];
      out.push(text(Buffer.concat([...parts, rest.subarray(0, newline)])));
      partial.delete(stream);
      rest = rest.subarray(newline + 1);
      newline = rest.indexOf(0x0a);
    }
    if (rest.length > 0) partial.set(stream, [...(partial.get(stream) ?? []), rest]);
  }
  for (const parts of partial.values()) out.push(text(Buffer.concat(parts)));
  return out;
}

function splitLines(bytes: Buffer): string[] {
  const lines = bytes.toString("utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => l.replace(/\r$/, ""));
}

function text(bytes: Buffer): string {
  return bytes.toString("utf8").replace(/\r$/, "");
}
