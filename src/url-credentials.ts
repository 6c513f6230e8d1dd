/**
 * Credentials inside repository URLs (`https://user:token@host/repo.git`):
 * masked wherever a URL is shown, scrubbed from text that may quote it (git's
 * own error messages do). RFC 3986 §3.2: the authority follows `//` and ends
 * at the first `/`, `?` or `#`; its userinfo ends at the last `@` in it.
 */

const MASK = "***";

interface Parts {
  /** Everything up to and including `//`. */
  head: string;
  user: string;
  password: string | undefined;
  /** Everything after the userinfo's `@`. */
  rest: string;
  http: boolean;
}

function split(url: string): Parts | undefined {
  // Lenient on purpose: a value refused as a URL is still quoted in the error, masked.
  const scheme = /^([^:/?#\s]*):\/\//.exec(url);
  if (!scheme?.[1]) return undefined;
  const head = scheme[0];
  const afterHead = url.slice(head.length);
  const end = afterHead.search(/[/?#]/);
  const authority = end === -1 ? afterHead : afterHead.slice(0, end);
  const at = authority.lastIndexOf("@");
  if (at === -1) return undefined;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(":");
  return {
    head,
    user: colon === -1 ? userinfo : userinfo.slice(0, colon),
    password: colon === -1 ? undefined : userinfo.slice(colon + 1),
    rest: afterHead.slice(at + 1),
    http: /^https?$/i.test(scheme[1]),
  };
}

/**
 * The URL fit for an answer, a log or an error: a password becomes `***`;
 * over HTTP(S) a user name alone is masked too, because forges take a token
 * there (`https://ghp_…@github.com/…`, `https://oauth2:…@gitlab.com/…`). An
 * SSH user name (`ssh://git@host/…`) is not a secret and stays.
 */
export function maskUrlCredentials(url: string): string {
  const parts = split(url);
  if (!parts) return url;
  if (parts.password !== undefined) return `${parts.head}${parts.user}:${MASK}@${parts.rest}`;
  if (parts.http && parts.user !== "") return `${parts.head}${MASK}@${parts.rest}`;
  return url;
}

/** The secret pieces of a URL's userinfo (what `maskUrlCredentials` hides), longest first. */
function secretPieces(url: string): string[] {
  const parts = split(url);
  if (!parts) return [];
  const raw =
    parts.password !== undefined ? [parts.password] : parts.http ? [parts.user] : ([] as string[]);
  const pieces = new Set<string>();
  for (const piece of raw) {
    if (piece === "") continue;
    pieces.add(piece);
    pieces.add(encodeURIComponent(piece));
    try {
      pieces.add(decodeURIComponent(piece));
    } catch {
      // A malformed escape: only the raw and the encoded forms can appear.
    }
  }
  return [...pieces].filter((p) => p !== "").sort((a, b) => b.length - a.length);
}

/**
 * `text` with the URL's credentials removed: the URL itself shown masked, and
 * any piece of its userinfo that appears on its own (raw, percent-encoded or
 * decoded, as git may print it) replaced by `***`.
 */
export function scrubUrlCredentials(text: string, url: string): string {
  let scrubbed = text.split(url).join(maskUrlCredentials(url));
  for (const piece of secretPieces(url)) scrubbed = scrubbed.split(piece).join(MASK);
  return scrubbed;
}
