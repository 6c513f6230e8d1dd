import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { isSealed, type Sealer } from "../secrets/sealer.js";

/** Per service, the tar archive a release extracts into each of its containers. */
export type ReleaseFileArchives = Record<string, Buffer>;

/**
 * The files of each release (binds, secrets, configs; see
 * pipeline/stages/release-files.ts), one archive per service under
 * `ROOT/APP/rN/SERVICE.tar`. A release never changes once recorded, so a
 * release's directory is written once, whole: into a temporary name, then
 * renamed. The directories are 0700 and the archives 0600, and with a
 * sealer each archive is stored sealed: they hold the release's secrets.
 */
export class ReleaseFileStore {
  constructor(
    private readonly root: string,
    private readonly sealer?: Sealer,
  ) {}

  /** Records the files of release `number` (replacing any left there); nothing is written for a release without files. */
  save(app: string, number: number, files: ReleaseFileArchives): void {
    const services = Object.keys(files);
    const dir = this.dir(app, number);
    // A re-created app numbers its releases from 1 again: never inherit an older rN's files.
    rmSync(dir, { recursive: true, force: true });
    if (services.length === 0) return;
    const staging = `${dir}.partial`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true, mode: 0o700 });
    this.secureParents(app);
    for (const service of services) {
      const archive = files[service] as Buffer;
      const stored = this.sealer
        ? this.sealer.seal(archive, fileContext(app, number, service))
        : archive;
      writeFileSync(join(staging, `${service}.tar`), stored, { mode: 0o600 });
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }

  /** The files of release `number`, by service; {} when it has none. */
  load(app: string, number: number): ReleaseFileArchives {
    const dir = this.dir(app, number);
    if (!existsSync(dir)) return {};
    const out: ReleaseFileArchives = {};
    for (const name of readdirSync(dir)) {
      if (!name.endsWith(".tar")) continue;
      const service = name.slice(0, -".tar".length);
      out[service] = this.opened(app, number, service, readFileSync(join(dir, name)));
    }
    return out;
  }

  /** Gives release `to` the files of release `from` (a rollback runs the earlier release again). */
  copy(app: string, from: number, to: number): void {
    // Opened and sealed again: each archive's seal names its own release.
    this.save(app, to, this.load(app, from));
  }

  /** Removes every release's files of `app` (it is being destroyed). */
  forget(app: string): void {
    rmSync(join(this.root, app), { recursive: true, force: true });
  }

  private opened(app: string, number: number, service: string, stored: Buffer): Buffer {
    const head = stored.subarray(0, 16).toString("latin1");
    if (!isSealed(head)) return stored;
    if (!this.sealer) {
      throw new Error(
        `the files of r${number} of ${app} are sealed, and this store has no secret key`,
      );
    }
    return this.sealer.openBytes(stored.toString("latin1"), fileContext(app, number, service));
  }

  private dir(app: string, number: number): string {
    return join(this.root, app, `r${number}`);
  }

  private secureParents(app: string): void {
    for (const dir of [this.root, join(this.root, app)]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  }
}

/** What a release archive's sealed bytes are bound to. */
function fileContext(app: string, number: number, service: string): string {
  return `release-files:${app}:r${number}:${service}`;
}
