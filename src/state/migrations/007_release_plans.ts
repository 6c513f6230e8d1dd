/**
 * A release keeps the plan it was deployed with (versioned JSON, see
 * spec/plan-codec.ts) and, per service, the fingerprint of how it runs that
 * service (image digest, settings, files), so "does this replica run as the
 * release has it" is a comparison of two values. Releases recorded before
 * this have neither: they are read with the plan made again from their spec,
 * and their fingerprints are computed once and written back.
 */
export const sql = `
ALTER TABLE releases ADD COLUMN plan_json TEXT;
ALTER TABLE releases ADD COLUMN fingerprints_json TEXT;
`;
