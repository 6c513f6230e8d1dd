/**
 * An app's config vars (`skiff config:set`): app-wide ones (service '') feed
 * the spec's `${VAR}` interpolation and every service's environment; a
 * service's own ones only that service's environment. A release keeps the
 * config it was made with (`config_json`, a ConfigSnapshot), so a rollback
 * brings that config back.
 */
export const sql = `
CREATE TABLE app_config (
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  service TEXT NOT NULL DEFAULT '',
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (app, service, key)
);
ALTER TABLE releases ADD COLUMN config_json TEXT;
`;
