/**
 * How a message quotes a long text: its first 57 characters and "...". One
 * helper, so that the secret scrubber (secrets/scrubber.ts) knows the cut
 * form of a secret a message might quote.
 */
export function shortenedForMessage(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
