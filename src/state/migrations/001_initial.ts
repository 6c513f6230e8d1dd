/**
 * The first schema. Migrations are plain SQL frozen in time: they never import
 * today's types, so an old database always upgrades the same way.
 */
export const sql = `
CREATE TABLE admin_tokens (
  id INTEGER PRIMARY KEY,
  -- sha256 of the token; the token itself lives only in $SKIFF_HOME/admin-token
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE apps (
  name TEXT PRIMARY KEY,
  deploy_branch TEXT NOT NULL DEFAULT 'main',
  created_at TEXT NOT NULL
);

-- What happened to the platform itself: a registry restarted, an edge adopted.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  component TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX events_at ON events (at);
`;
