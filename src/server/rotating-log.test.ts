import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RotatingLog } from "./rotating-log.js";

describe("RotatingLog", () => {
  const dirs: string[] = [];
  const tempLog = () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-log-"));
    dirs.push(dir);
    return join(dir, "server.log");
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : undefined);

  it("cuts the file at the size limit and keeps only the newest files", () => {
    const file = tempLog();
    const log = new RotatingLog({ file, maxBytes: 20, files: 3 });
    // Each line is 10 bytes, so two fit in a file.
    for (let i = 0; i < 7; i++) log.line(`line ${i}...`);
    log.close();
    expect(read(file)).toBe("line 6...\n");
    expect(read(`${file}.1`)).toBe("line 4...\nline 5...\n");
    expect(read(`${file}.2`)).toBe("line 2...\nline 3...\n");
    // Lines 0 and 1 went with the oldest file: at most 3 files, ~60 bytes, are kept.
    expect(read(`${file}.3`)).toBeUndefined();
  });

  it("counts what an existing file already holds", () => {
    const file = tempLog();
    writeFileSync(file, "x".repeat(15));
    const log = new RotatingLog({ file, maxBytes: 20, files: 2 });
    log.line("line 1...");
    log.close();
    expect(read(`${file}.1`)).toBe("x".repeat(15));
    expect(read(file)).toBe("line 1...\n");
  });

  it("writes a line longer than the limit whole, into a file of its own", () => {
    const file = tempLog();
    const log = new RotatingLog({ file, maxBytes: 8, files: 2 });
    log.line("short");
    log.line("a much longer line");
    log.close();
    expect(read(file)).toBe("a much longer line\n");
    expect(read(`${file}.1`)).toBe("short\n");
  });

  it("keeps every file it writes readable by the owner only, an old 0644 file included", () => {
    const file = tempLog();
    writeFileSync(file, "old\n", { mode: 0o644 });
    const log = new RotatingLog({ file, maxBytes: 10, files: 3 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    log.line("0123456789");
    log.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.1`).mode & 0o777).toBe(0o600);
  });
});
