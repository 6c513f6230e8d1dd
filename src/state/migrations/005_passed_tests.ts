/**
 * Test entries that passed, by the digest of everything their outcome
 * depends on (the command, the image ids of the service and of every
 * dependency started for it, their environment and settings). A push whose
 * test has the same digest skips it: it would run the same command in the
 * same images.
 */
export const sql = `
CREATE TABLE passed_tests (
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  test_key TEXT NOT NULL,
  run_number INTEGER NOT NULL,
  passed_at TEXT NOT NULL,
  PRIMARY KEY (app, test_key)
);
`;
