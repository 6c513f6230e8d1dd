import type Docker from "dockerode";

/**
 * BuildKit's local cache, for tests that must prove a cache hit came from
 * somewhere else (a registry's inline cache). `docker builder prune` would
 * drop everyone's cache; these helpers remove only the records a test made,
 * found by a unique token in their description (the RUN command), plus the
 * records built on top of them.
 */

interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[] | null;
  Description: string;
  InUse: boolean;
}

/** GET /system/df: the BuildCache records (API 1.41). */
export async function buildCacheRecords(docker: Docker): Promise<BuildCacheRecord[]> {
  const df = (await docker.df()) as { BuildCache?: BuildCacheRecord[] | null };
  return df.BuildCache ?? [];
}

/**
 * Prunes every build cache record whose description contains `token`, and
 * their descendants, children first (a parent is only prunable once its
 * children are gone). Returns the ids deleted.
 */
export async function pruneBuildCacheByToken(docker: Docker, token: string): Promise<string[]> {
  const deleted: string[] = [];
  for (let round = 0; round < 5; round++) {
    const records = await buildCacheRecords(docker);
    const selected = new Set(records.filter((r) => r.Description.includes(token)).map((r) => r.ID));
    let grew = true;
    while (grew) {
      grew = false;
      for (const record of records) {
        const parents = [record.Parent, ...(record.Parents ?? [])].filter(Boolean) as string[];
        if (!selected.has(record.ID) && parents.some((p) => selected.has(p))) {
          selected.add(record.ID);
          grew = true;
        }
      }
    }
    if (selected.size === 0) break;
    let progress = false;
    for (const id of selected) {
      const result = await pruneOne(docker, id);
      if (result.length > 0) progress = true;
      deleted.push(...result);
    }
    if (!progress) break;
  }
  return deleted;
}

/** POST /build/prune?filters={"id":[id]}: the daemon matches ids by prefix, so it removes one record. */
async function pruneOne(docker: Docker, id: string): Promise<string[]> {
  const answer = await new Promise<unknown>((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/build/prune?",
        method: "POST",
        options: { filters: JSON.stringify({ id: [id] }) },
        statusCodes: { 200: true, 500: "server error" },
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  return (answer as { CachesDeleted?: string[] | null }).CachesDeleted ?? [];
}
