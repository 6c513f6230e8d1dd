import { describe, expect, it } from "vitest";
import {
  type CgiHead,
  CgiResponseReader,
  cgiEnvironment,
  findHeadEnd,
  parseCgiHead,
} from "./cgi.js";

describe("parseCgiHead", () => {
  const cases: { name: string; block: string; head: CgiHead }[] = [
    {
      name: "http-backend's advertisement: no Status means 200",
      block:
        "Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\nPragma: no-cache\r\nCache-Control: no-cache, max-age=0, must-revalidate\r\nContent-Type: application/x-git-receive-pack-advertisement",
      head: {
        status: 200,
        headers: [
          ["Expires", "Fri, 01 Jan 1980 00:00:00 GMT"],
          ["Pragma", "no-cache"],
          ["Cache-Control", "no-cache, max-age=0, must-revalidate"],
          ["Content-Type", "application/x-git-receive-pack-advertisement"],
        ],
      },
    },
    {
      name: "Status sets the code and is not passed on",
      block: "Status: 404 Not Found\r\nExpires: x",
      head: { status: 404, headers: [["Expires", "x"]] },
    },
    {
      name: "bare LF line ends",
      block: "Status: 403 Forbidden\nContent-Type: text/plain",
      head: { status: 403, headers: [["Content-Type", "text/plain"]] },
    },
    {
      name: "Location without Status is a redirect (RFC 3875 6.2.3)",
      block: "Location: /elsewhere",
      head: { status: 302, headers: [["Location", "/elsewhere"]] },
    },
    {
      name: "hop-by-hop headers are dropped; a colon in a value is kept",
      block: "Connection: close\r\nTransfer-Encoding: chunked\r\nX-Note: a: b",
      head: { status: 200, headers: [["X-Note", "a: b"]] },
    },
  ];
  for (const { name, block, head } of cases) {
    it(name, () => expect(parseCgiHead(block)).toEqual(head));
  }

  it("refuses lines that are not headers", () => {
    expect(() => parseCgiHead("PACK")).toThrow(/malformed CGI header line "PACK"/);
    expect(() => parseCgiHead("Status: soon")).toThrow(/malformed CGI Status/);
  });
});

describe("findHeadEnd", () => {
  it("finds the first blank line, CRLF or LF, whichever comes first", () => {
    expect(findHeadEnd(Buffer.from("A: 1\r\n\r\nbody"))).toEqual({ headEnd: 4, bodyStart: 8 });
    expect(findHeadEnd(Buffer.from("A: 1\n\nbody\r\n\r\n"))).toEqual({ headEnd: 4, bodyStart: 6 });
    expect(findHeadEnd(Buffer.from("A: 1\r\nB: 2\r\n"))).toBeUndefined();
  });
});

async function readAll(reader: CgiResponseReader, chunks: Buffer[]) {
  const heads: CgiHead[] = [];
  const body: Buffer[] = [];
  reader.on("head", (head: CgiHead) => heads.push(head));
  reader.on("data", (chunk: Buffer) => body.push(chunk));
  const ended = new Promise<Error | undefined>((resolve) => {
    reader.on("end", () => resolve(undefined));
    reader.on("error", resolve);
  });
  for (const chunk of chunks) reader.write(chunk);
  reader.end();
  return { heads, body: Buffer.concat(body), error: await ended };
}

describe("CgiResponseReader", () => {
  it("splits the head from a body whatever the chunk boundaries, and keeps binary bytes", async () => {
    const binary = Buffer.from([0x00, 0x01, 0x0d, 0x0a, 0x0d, 0x0a, 0xff]);
    const whole = Buffer.concat([
      Buffer.from("Status: 200 OK\r\nContent-Type: application/x-git-upload-pack-result\r\n\r\n"),
      binary,
    ]);
    for (let size = 1; size <= whole.length; size += 7) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < whole.length; at += size) chunks.push(whole.subarray(at, at + size));
      const { heads, body, error } = await readAll(new CgiResponseReader(), chunks);
      expect(error).toBeUndefined();
      expect(heads).toEqual([
        { status: 200, headers: [["Content-Type", "application/x-git-upload-pack-result"]] },
      ]);
      expect(body).toEqual(binary);
    }
  });

  it("fails when the output ends inside the head", async () => {
    const { error } = await readAll(new CgiResponseReader(), [
      Buffer.from("Content-Type: text/plain\r\n"),
    ]);
    expect(error?.message).toMatch(/ended before its headers were complete/);
  });

  it("fails on output that is not a CGI head", async () => {
    const { error } = await readAll(new CgiResponseReader(), [Buffer.from("oops\n\n")]);
    expect(error?.message).toMatch(/malformed CGI header line/);
  });
});

describe("cgiEnvironment", () => {
  const base = { PATH: "/usr/bin", GIT_CONFIG_NOSYSTEM: "1" };
  const request = {
    method: "POST",
    pathInfo: "/shop.git/git-receive-pack",
    queryString: "",
    remoteAddr: "127.0.0.1",
    remoteUser: "deployer",
    projectRoot: "/srv/skiff/repos",
  };

  it("turns a push request into http-backend's variables plus the hook's", () => {
    expect(
      cgiEnvironment(
        {
          ...request,
          headers: {
            "content-type": "application/x-git-receive-pack-request",
            "content-length": "1234",
            "git-protocol": "version=2",
          },
        },
        base,
        { SKIFF_APP: "shop" },
      ),
    ).toEqual({
      PATH: "/usr/bin",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_PROJECT_ROOT: "/srv/skiff/repos",
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: "/shop.git/git-receive-pack",
      REQUEST_METHOD: "POST",
      QUERY_STRING: "",
      REMOTE_USER: "deployer",
      REMOTE_ADDR: "127.0.0.1",
      SERVER_PROTOCOL: "HTTP/1.1",
      CONTENT_TYPE: "application/x-git-receive-pack-request",
      CONTENT_LENGTH: "1234",
      GIT_PROTOCOL: "version=2",
      SKIFF_APP: "shop",
    });
  });

  it("leaves CONTENT_LENGTH out of a chunked body and passes gzip on", () => {
    const env = cgiEnvironment(
      {
        ...request,
        headers: {
          "content-type": "application/x-git-upload-pack-request",
          "transfer-encoding": "chunked",
          "content-encoding": "gzip",
        },
      },
      base,
    );
    expect(env.CONTENT_LENGTH).toBeUndefined();
    expect(env.HTTP_CONTENT_ENCODING).toBe("gzip");
  });

  it("drops a Git-Protocol value with odd characters and control characters in the user name", () => {
    const env = cgiEnvironment(
      { ...request, remoteUser: "a\u0000b\nc", headers: { "git-protocol": "version=2; rm -rf /" } },
      base,
    );
    expect(env.GIT_PROTOCOL).toBeUndefined();
    expect(env.REMOTE_USER).toBe("abc");
    expect(cgiEnvironment({ ...request, remoteUser: "", headers: {} }, base).REMOTE_USER).toBe(
      "skiff",
    );
  });

  it("lets nothing from the request override the hook's variables", () => {
    const env = cgiEnvironment({ ...request, headers: {} }, base, {
      SKIFF_HOOK_URL: "http://127.0.0.1:1/x",
    });
    expect(env.SKIFF_HOOK_URL).toBe("http://127.0.0.1:1/x");
  });
});
