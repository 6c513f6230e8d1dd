import type { Principal } from "../state/tokens.js";

/** Who started a run from this request, for its record and events: the token's name. */
export function actorOf(request: { principal?: Principal }): string {
  return request.principal?.name ?? "an unnamed caller";
}
