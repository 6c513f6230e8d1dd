/**
 * Writing tar archives, as much as a build context needs: regular files,
 * directories and symbolic links in POSIX ustar format, with a PAX extended
 * header (POSIX.1-2001 `pax`, typeflag `x`) for names, link targets or sizes
 * that do not fit ustar's fields. Go's archive/tar, which the Docker daemon
 * reads contexts with, understands both.
 */

export const BLOCK = 512;

export type TarEntryType = "file" | "directory" | "symlink";

export interface TarEntry {
  /** Slash-separated path inside the archive, without a leading `/`; directories without a trailing `/`. */
  path: string;
  type: TarEntryType;
  /** Permission bits (e.g. 0o644). */
  mode: number;
  /** Bytes of content; 0 for directories and links. */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Target of a symbolic link. */
  linkname?: string;
  uid?: number;
  gid?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = { file: "0", directory: "5", symlink: "2" };
const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits
const encoder = new TextEncoder();

/** The header block(s) of an entry: a PAX header first when ustar's fields are too small. */
export function entryHeader(entry: TarEntry): Buffer {
  const name = entry.type === "directory" ? `${entry.path}/` : entry.path;
  const linkname = entry.linkname ?? "";
  const pax: Record<string, string> = {};
  const split = splitName(name);
  if (split === undefined) pax.path = name;
  if (encoder.encode(linkname).length > 100) pax.linkpath = linkname;
  if (entry.size > MAX_OCTAL_SIZE) pax.size = String(entry.size);

  const header = ustarHeader({
    name: split?.name ?? truncate(name, 100),
    prefix: split?.prefix ?? "",
    mode: entry.mode & 0o7777,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    size: entry.size > MAX_OCTAL_SIZE ? 0 : entry.size,
    mtime: Math.max(0, Math.floor(entry.mtime)),
    typeflag: TYPEFLAG[entry.type],
    linkname: pax.linkpath === undefined ? linkname : truncate(linkname, 100),
  });
  if (Object.keys(pax).length === 0) return header;
  const records = Buffer.from(paxRecords(pax));
  const paxHeader = ustarHeader({
    name: truncate(`PaxHeaders/${name}`, 100),
    prefix: "",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: Math.max(0, Math.floor(entry.mtime)),
    typeflag: "x",
    linkname: "",
  });
  return Buffer.concat([paxHeader, records, padding(records.length), header]);
}

/** Zeros that fill the last block of `size` bytes of content. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks: the end of an archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/**
 * PAX records `"<length> <key>=<value>\n"`, where length counts the whole
 * record including its own digits.
 */
export function paxRecords(fields: Record<string, string>): string {
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    const body = ` ${key}=${value}\n`;
    const bodyLength = encoder.encode(body).length;
    let digits = 1;
    while (String(bodyLength + digits).length !== digits) digits++;
    out += `${bodyLength + digits}${body}`;
  }
  return out;
}

/** ustar keeps up to 100 bytes of name plus a 155-byte prefix split at a `/`. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  const bytes = encoder.encode(name);
  if (bytes.length <= 100) return { name, prefix: "" };
  if (bytes.length > 256) return undefined;
  for (let i = name.indexOf("/"); i !== -1; i = name.indexOf("/", i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(rest).length <= 100 && rest) {
      return { name: rest, prefix };
    }
  }
  return undefined;
}

function truncate(text: string, bytes: number): string {
  const encoded = encoder.encode(text);
  return encoded.length <= bytes
    ? text
    : Buffer.from(encoded.subarray(0, bytes)).toString("latin1");
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

function ustarHeader(fields: UstarFields): Buffer {
  const header = Buffer.alloc(BLOCK);
  const text = (offset: number, length: number, value: string) => {
    Buffer.from(encoder.encode(value).subarray(0, length)).copy(header, offset);
  };
  const octal = (offset: number, length: number, value: number) => {
    text(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  };
  text(0, 100, fields.name);
  octal(100, 8, fields.mode);
  octal(108, 8, fields.uid);
  octal(116, 8, fields.gid);
  octal(124, 12, fields.size);
  octal(136, 12, fields.mtime);
  text(148, 8, "        "); // the checksum is computed with its own field as spaces
  text(156, 1, fields.typeflag);
  text(157, 100, fields.linkname);
  text(257, 6, "ustar\0");
  text(263, 2, "00");
  text(345, 155, fields.prefix);
  let checksum = 0;
  for (const byte of header) checksum += byte;
  text(148, 8, `${checksum.toString(8).padStart(6, "0")}\0 `);
  return header;
}
