/** Pipeline runs, their stages and build steps, and the releases they produce. */
export const sql = `
ALTER TABLE apps ADD COLUMN repo_url TEXT;
ALTER TABLE apps ADD COLUMN webhook_secret TEXT;

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  -- per-app sequence shown to users: "run 12 of shop"
  number INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  commit_sha TEXT,
  ref TEXT,
  -- queued | running | succeeded | failed | cancelled | superseded | interrupted
  status TEXT NOT NULL,
  reason TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  release_number INTEGER,
  UNIQUE (app, number)
);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE run_stages (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  -- pending | running | succeeded | failed | skipped | cancelled
  status TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  duration_ms INTEGER,
  PRIMARY KEY (run_id, name)
);

CREATE TABLE build_steps (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  service TEXT NOT NULL,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  cached INTEGER NOT NULL,
  duration_ms INTEGER,
  error TEXT,
  PRIMARY KEY (run_id, service, position)
);

CREATE TABLE releases (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  commit_sha TEXT,
  trigger TEXT NOT NULL,
  -- published | live | failed | superseded
  status TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (app, number)
);

CREATE TABLE release_images (
  release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
  service TEXT NOT NULL,
  image TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (release_id, service)
);
`;
