/**
 * Named tokens (`skiff tokens:create`): each with a scope (read, deploy,
 * admin), optionally bound to one app, stored as its sha256 only, with an
 * expiry. Runs and releases record who started them (`actor`: a token's
 * name, "admin" for the admin token, "webhook:github" for a delivery).
 */
export const sql = `
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL UNIQUE,
  -- read | deploy | admin
  scope TEXT NOT NULL,
  app TEXT REFERENCES apps (name) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT
);
ALTER TABLE runs ADD COLUMN actor TEXT;
ALTER TABLE releases ADD COLUMN actor TEXT;
`;
