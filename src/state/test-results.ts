import type { SqliteDatabase } from "./database.js";

/**
 * Which test entries passed, by test key (see src/pipeline/stages/test-key.ts).
 * Only passes are kept: a failed or cancelled test runs again next time.
 */
export class TestResultStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The run in which a test with this key passed, if one did. */
  passedIn(app: string, testKey: string): number | undefined {
    const row = this.db
      .prepare("SELECT run_number FROM passed_tests WHERE app = ? AND test_key = ?")
      .get(app, testKey) as { run_number: number } | undefined;
    return row?.run_number;
  }

  recordPass(app: string, testKey: string, runNumber: number): void {
    this.db
      .prepare(
        "INSERT INTO passed_tests (app, test_key, run_number, passed_at) VALUES (?, ?, ?, ?) ON CONFLICT (app, test_key) DO UPDATE SET run_number = excluded.run_number, passed_at = excluded.passed_at",
      )
      .run(app, testKey, runNumber, this.now().toISOString());
  }
}
