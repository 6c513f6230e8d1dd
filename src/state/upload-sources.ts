import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { join } from "node:path";

/** Uploaded trees kept per app: enough for a config change or a rollback of the recent ones. */
export const UPLOADS_KEPT_PER_APP = 10;

/**
 * The tar archive `skiff deploy` uploaded for a release, kept as
 * `ROOT/APP/rN.tar` (0600, in 0700 directories: a tree may hold a `.env`).
 * A release made from a commit needs none: its tree is in the app's git
 * repository. A config change of an uploaded release starts from this
 * archive, so only the newest UPLOADS_KEPT_PER_APP are kept.
 */
export class UploadSourceStore {
  constructor(private readonly root: string) {}

  /** Keeps a copy of `archiveFile` as release `number`'s tree; `live`'s tree is never pruned. */
  keep(app: string, number: number, archiveFile: string, live?: number): void {
    const dir = join(this.root, app);
    for (const parent of [this.root, dir]) {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      chmodSync(parent, 0o700);
    }
    const file = this.file(app, number);
    rmSync(file, { force: true });
    copyFileSync(archiveFile, file);
    chmodSync(file, 0o600);
    this.prune(app, live);
  }

  /** Gives release `to` the tree of release `from` (a rollback), if it is kept. */
  copy(app: string, from: number, to: number, live?: number): void {
    const source = this.file(app, from);
    if (!existsSync(source)) return;
    const file = this.file(app, to);
    rmSync(file, { force: true });
    linkSync(source, file);
    this.prune(app, live);
  }

  /** The archive of release `number`, when it is kept. */
  archive(app: string, number: number): string | undefined {
    const file = this.file(app, number);
    return existsSync(file) ? file : undefined;
  }

  /** The newest UPLOADS_KEPT_PER_APP stay, and the live release's whatever its age. */
  private prune(app: string, live: number | undefined): void {
    const numbers = readdirSync(join(this.root, app))
      .map((name) => /^r(\d+)\.tar$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
    for (const number of numbers.slice(UPLOADS_KEPT_PER_APP)) {
      if (number === live) continue;
      rmSync(this.file(app, number), { force: true });
    }
  }

  private file(app: string, number: number): string {
    return join(this.root, app, `r${number}.tar`);
  }
}
