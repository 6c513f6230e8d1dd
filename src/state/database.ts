import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { migrations } from "./migrations/index.js";

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating if needed) the state database in WAL mode and applies any
 * pending migrations in one transaction each. `:memory:` works for tests.
 * The file and its -wal and -shm companions are readable by the owner only:
 * they hold webhook secrets and repository credentials.
 */
export function openDatabase(file: string): SqliteDatabase {
  if (file !== ":memory:") {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Created here with 0600 rather than by SQLite with the umask's 0644.
    // SQLite's unix VFS gives the -wal and -shm files it creates the mode of
    // the database file (os_unix.c, findCreateFileMode).
    if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
  }
  const db = new Database(file);
  // WAL lets the API read while a pipeline writes; NORMAL is durable across
  // process crashes, which is what a control plane restart needs.
  db.pragma("journal_mode = WAL");
  // A database from before modes were enforced keeps 0644 until told.
  if (file !== ":memory:") restrictDatabaseModes(file);
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

/** Makes the database file and its -wal and -shm companions (when they exist) mode 0600. */
export function restrictDatabaseModes(file: string): void {
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(path, 0o600);
    } catch (error) {
      // No -wal or -shm yet (or any more, after a clean close): nothing to restrict.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
}

/** Brings the schema to the newest version recorded in `user_version`. */
export function migrate(db: SqliteDatabase): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(
      `the state database is at schema version ${current}, newer than this Skiff knows (${migrations.length}); run a newer skiff, or restore a backup made by this version`,
    );
  }
  for (let version = current + 1; version <= migrations.length; version++) {
    const migration = migrations[version - 1];
    if (!migration) break;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
}

/** The schema version a database is at. */
export function schemaVersion(db: SqliteDatabase): number {
  return db.pragma("user_version", { simple: true }) as number;
}
