/**
 * Secret config vars (`skiff config:set --secret`): their values are stored
 * sealed (secrets/sealer.ts), and so is every release column that may hold
 * one (spec, plan, config). `secret_key` keeps a value sealed with the
 * server's key, so a start with another key file is refused.
 */
export const sql = `
ALTER TABLE app_config ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;
CREATE TABLE secret_key (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  key_check TEXT NOT NULL
);
`;
