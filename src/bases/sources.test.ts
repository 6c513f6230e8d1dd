import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MIRROR, detectMirror, mirrorForSuite, parseSources } from "./sources.js";

// This machine's /etc/apt/sources.list.d/debian.sources, as Debian 12 ships it.
const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe("parseSources", () => {
  it("reads deb822 stanzas", () => {
    expect(parseSources({ path: "debian.sources", text: DEBIAN_SOURCES })).toEqual([
      { uri: "http://deb.debian.org/debian", suites: ["bookworm", "bookworm-updates"] },
      { uri: "http://deb.debian.org/debian-security", suites: ["bookworm-security"] },
    ]);
  });

  it("skips deb-src, disabled stanzas, and joins continuation lines", () => {
    const text = [
      "Types: deb-src",
      "URIs: http://src.example/debian",
      "Suites: bookworm",
      "",
      "Types: deb",
      "Enabled: no",
      "URIs: http://off.example/debian",
      "Suites: bookworm",
      "",
      "Types: deb deb-src",
      "URIs: http://a.example/debian",
      " http://b.example/debian",
      "Suites: bookworm",
    ].join("\n");
    expect(parseSources({ path: "x.sources", text })).toEqual([
      { uri: "http://a.example/debian", suites: ["bookworm"] },
      { uri: "http://b.example/debian", suites: ["bookworm"] },
    ]);
  });

  it("reads one-line entries with options and comments", () => {
    const text = [
      "# deb http://commented.example/debian bookworm main",
      "deb-src http://src.example/debian bookworm main",
      "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main contrib",
      "deb http://security.example/debian-security bookworm-security main # trailing",
    ].join("\n");
    expect(parseSources({ path: "sources.list", text })).toEqual([
      { uri: "http://mirror.example/debian", suites: ["bookworm"] },
      { uri: "http://security.example/debian-security", suites: ["bookworm-security"] },
    ]);
  });
});

describe("mirrorForSuite", () => {
  it.each([
    [
      "this machine's sources",
      [{ path: "debian.sources", text: DEBIAN_SOURCES }],
      "bookworm",
      "http://deb.debian.org/debian",
    ],
    [
      "the first file that serves the suite",
      [
        { path: "sources.list", text: "deb http://security.example/s bookworm-security main\n" },
        {
          path: "nodesource.sources",
          text: "Types: deb\nURIs: https://node.example/x\nSuites: nodistro\n",
        },
        { path: "local.list", text: "deb http://mirror.local/debian/ bookworm main\n" },
      ],
      "bookworm",
      "http://mirror.local/debian",
    ],
    [
      "no source for the suite",
      [{ path: "debian.sources", text: DEBIAN_SOURCES }],
      "trixie",
      DEFAULT_MIRROR,
    ],
    [
      "cdrom sources are not mirrors",
      [{ path: "sources.list", text: "deb cdrom:[Debian]/ bookworm main\n" }],
      "bookworm",
      DEFAULT_MIRROR,
    ],
    ["no files", [], "bookworm", DEFAULT_MIRROR],
  ])("%s", (_name, files, suite, mirror) => {
    expect(mirrorForSuite(files, suite)).toBe(mirror);
  });
});

describe("detectMirror", () => {
  it("reads sources.list, then sources.list.d/*.list and *.sources by name, ignoring other files", async () => {
    const etc = mkdtempSync(join(tmpdir(), "skiff-apt-"));
    try {
      mkdirSync(join(etc, "sources.list.d"));
      writeFileSync(
        join(etc, "sources.list.d", "a.list.disabled"),
        "deb http://disabled.example/d bookworm main\n",
      );
      writeFileSync(
        join(etc, "sources.list.d", "b.sources"),
        "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\n",
      );
      writeFileSync(
        join(etc, "sources.list.d", "c.list"),
        "deb http://c.example/debian bookworm main\n",
      );
      expect(await detectMirror("bookworm", etc)).toBe("http://b.example/debian");
      writeFileSync(join(etc, "sources.list"), "deb http://first.example/debian bookworm main\n");
      expect(await detectMirror("bookworm", etc)).toBe("http://first.example/debian");
      expect(await detectMirror("bookworm", join(etc, "missing"))).toBe(DEFAULT_MIRROR);
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });
});
