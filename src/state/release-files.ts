import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** Per service, the tar archive a release extracts into each of its containers. */
export type ReleaseFileArchives = Record<string, Buffer>;

/**
 * The files of each release (binds, secrets, configs; see
 * pipeline/stages/release-files.ts), one archive per service under
 * `ROOT/APP/rN/SERVICE.tar`. A release never changes once recorded, so a
 * release's directory is written once, whole: into a temporary name, then
 * renamed. The directories are 0700 and the archives 0600: they may hold
 * secrets.
 */
export class ReleaseFileStore {
  constructor(private readonly root: string) {}

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
      writeFileSync(join(staging, `${service}.tar`), files[service] as Buffer, { mode: 0o600 });
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
      if (name.endsWith(".tar")) out[name.slice(0, -".tar".length)] = readFileSync(join(dir, name));
    }
    return out;
  }

  /** Gives release `to` the files of release `from` (a rollback runs the earlier release again). */
  copy(app: string, from: number, to: number): void {
    const source = this.dir(app, from);
    const dir = this.dir(app, to);
    rmSync(dir, { recursive: true, force: true });
    if (!existsSync(source)) return;
    cpSync(source, dir, { recursive: true });
  }

  /** Removes every release's files of `app` (it is being destroyed). */
  forget(app: string): void {
    rmSync(join(this.root, app), { recursive: true, force: true });
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
