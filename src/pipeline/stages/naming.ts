/**
 * Where a service's images live in the registry: REGISTRY/APP/SERVICE, the
 * service's name lowercased, as repository names must be (a Compose service
 * may be called `Backend`; the spec refuses two names that differ only in case).
 */
export function serviceRepository(registryAddress: string, app: string, service: string): string {
  return `${registryAddress}/${app}/${service.toLowerCase()}`;
}

/**
 * The tags a release's image gets: the commit (first 12 hex digits) so an
 * image can be traced to its source, and `rN` so a rollback can name it.
 * Without a commit (an upload), the release tag alone.
 */
export function imageTags(releaseNumber: number, commit?: string): string[] {
  return commit ? [commit.slice(0, 12), `r${releaseNumber}`] : [`r${releaseNumber}`];
}
