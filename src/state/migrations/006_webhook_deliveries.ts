/**
 * Webhook deliveries already acted on, so a repeat (a forge's retry, its
 * "Redeliver" button, or a captured delivery replayed) starts nothing. A
 * delivery is known by the forge's delivery id and by the digest of its
 * body: GitHub and Gitea sign only the body, so a replay can carry any
 * delivery id header. Rows are pruned by age and count (see Store).
 */
export const sql = `
CREATE TABLE webhook_deliveries (
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  -- "id:<forge>:<delivery id>" or "body:<sha256 hex of the raw body>"
  delivery_key TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (app, delivery_key)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (app, received_at);
`;
