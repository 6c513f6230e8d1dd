// Compose's duration and byte formats. Durations follow Go's
// time.ParseDuration (which Compose uses): a sequence of number+unit pairs,
// e.g. `1m30s`. Byte sizes follow docker/go-units RAMInBytes (which Compose
// uses for memory and shm_size): binary multiples, so `1g` = `1GB` = 2^30.

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION = /^(?:\d+(?:\.\d+)?|\.\d+)(?:ns|us|µs|ms|s|m|h)/;

/** Parses a Compose duration (`1m30s`, `500ms`, `2h45m`) into milliseconds; undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "") return undefined;
  let rest = s;
  let total = 0;
  while (rest !== "") {
    const m = DURATION.exec(rest);
    if (!m) return undefined;
    const part = m[0];
    const unit = /[a-zµ]+$/.exec(part)?.[0] ?? "";
    total +=
      Number(part.slice(0, part.length - unit.length)) * (DURATION_UNITS[unit] ?? Number.NaN);
    rest = rest.slice(part.length);
  }
  return Number.isFinite(total) ? total : undefined;
}

const BYTES = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i)?(b)?$/i;
const BYTE_POWERS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

/** Parses a Compose byte size (`512m`, `1g`, `100MB`, `2kb`, `1048576`) into bytes; undefined if it is not one. */
export function parseBytes(value: string | number): number | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  const m = BYTES.exec(value.trim());
  if (!m) return undefined;
  const amount = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  // `1i` or `1ib` without a unit letter is not a size.
  if (!unit && m[3]) return undefined;
  const bytes = Math.floor(amount * 1024 ** (unit ? (BYTE_POWERS[unit] ?? 0) : 0));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
