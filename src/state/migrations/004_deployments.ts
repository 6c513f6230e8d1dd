/**
 * What should run: per app, the release that is live (the reconciler keeps
 * its replicas running and removes everything else) and replica counts set
 * with `skiff scale`, which outlive releases. A rollback is a new release
 * that names the release whose images it runs again.
 */
export const sql = `
CREATE TABLE deployments (
  app TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
  release_number INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE scale (
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  service TEXT NOT NULL,
  replicas INTEGER NOT NULL CHECK (replicas >= 0),
  PRIMARY KEY (app, service)
);

ALTER TABLE releases ADD COLUMN rollback_of INTEGER;
`;
