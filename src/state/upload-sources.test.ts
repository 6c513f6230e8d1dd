import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UPLOADS_KEPT_PER_APP, UploadSourceStore } from "./upload-sources.js";

describe("UploadSourceStore", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const setUp = () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-uploads-"));
    dirs.push(dir);
    const archive = join(dir, "upload.tar");
    writeFileSync(archive, "tree bytes");
    return { dir, archive, uploads: new UploadSourceStore(join(dir, "uploads")) };
  };

  it("keeps a copy only the owner can read, which outlives the upload, and a rollback shares it", () => {
    const { dir, archive, uploads } = setUp();
    uploads.keep("shop", 3, archive);
    rmSync(archive);
    const kept = uploads.archive("shop", 3) as string;
    expect(readFileSync(kept, "utf8")).toBe("tree bytes");
    expect(statSync(kept).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "uploads", "shop")).mode & 0o777).toBe(0o700);
    uploads.copy("shop", 3, 4);
    expect(readFileSync(uploads.archive("shop", 4) as string, "utf8")).toBe("tree bytes");
    uploads.copy("shop", 1, 5);
    expect(uploads.archive("shop", 5)).toBeUndefined();
  });

  it(`keeps the newest ${UPLOADS_KEPT_PER_APP} per app`, () => {
    const { archive, uploads } = setUp();
    for (let n = 1; n <= UPLOADS_KEPT_PER_APP + 2; n++) uploads.keep("shop", n, archive);
    uploads.keep("blog", 1, archive);
    expect(uploads.archive("shop", 1)).toBeUndefined();
    expect(uploads.archive("shop", 2)).toBeUndefined();
    expect(uploads.archive("shop", 3)).toBeDefined();
    expect(uploads.archive("shop", UPLOADS_KEPT_PER_APP + 2)).toBeDefined();
    expect(uploads.archive("blog", 1)).toBeDefined();
  });

  it("never prunes the live release's tree, however many newer releases came", () => {
    const { archive, uploads } = setUp();
    for (let n = 1; n <= UPLOADS_KEPT_PER_APP + 3; n++) uploads.keep("shop", n, archive, 2);
    expect(uploads.archive("shop", 2)).toBeDefined();
    expect(uploads.archive("shop", 1)).toBeUndefined();
    expect(uploads.archive("shop", 3)).toBeUndefined();
  });
});
