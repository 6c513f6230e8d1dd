/**
 * Per released image, the digest of its build inputs (context, Dockerfile,
 * args, resolved base images), so a later build with the same inputs reuses
 * the image instead of rebuilding it. NULL for images Skiff did not build.
 */
export const sql = `
ALTER TABLE release_images ADD COLUMN build_key TEXT;
`;
