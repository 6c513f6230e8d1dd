import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NOT_FOUND_PAGE, renderEdgeConfig } from "./config-render.js";
import { parseDomainMap, renderDomainMap } from "./domain-map.js";
import { parseShowInfo } from "./runtime-api.js";

const input = {
  httpPort: 8080,
  statsPort: 8404,
  runtimeSocket: "/srv/skiff/run/haproxy.sock",
  domainMapFile: "/srv/skiff/edge/domains.map",
  notFoundPageFile: "/srv/skiff/edge/not-found.html",
};

describe("renderEdgeConfig", () => {
  const config = renderEdgeConfig(input);

  it("runs master-worker with an admin runtime socket that hands listeners over on reload", () => {
    expect(config).toContain("\n    master-worker\n");
    expect(config).toContain(
      "stats socket /srv/skiff/run/haproxy.sock mode 600 level admin expose-fd listeners",
    );
    expect(config).toContain("option idle-close-on-response");
  });

  it("routes by Host without its port through the domain map, else the 404 page", () => {
    expect(config).toContain("bind :8080\n");
    expect(config).toContain("req.hdr(host),field(1,:),lower");
    expect(config).toContain("use_backend %[var(txn.skiff_host),map(/srv/skiff/edge/domains.map)]");
    expect(config).toContain("default_backend skiff_not_found");
    expect(config).toContain("http-request return status 404");
    expect(config).toContain("file /srv/skiff/edge/not-found.html");
  });

  it("binds the stats page to 127.0.0.1 only", () => {
    expect(config).toContain("bind 127.0.0.1:8404\n");
    expect(config.match(/bind /g)).toHaveLength(2);
  });

  it("is a configuration the real HAProxy accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-edge-"));
    try {
      const files = {
        ...input,
        runtimeSocket: join(dir, "haproxy.sock"),
        domainMapFile: join(dir, "domains.map"),
        notFoundPageFile: join(dir, "not-found.html"),
      };
      writeFileSync(files.domainMapFile, "shop.localhost app_shop__web\n");
      writeFileSync(files.notFoundPageFile, NOT_FOUND_PAGE);
      writeFileSync(join(dir, "haproxy.cfg"), renderEdgeConfig(files));
      const output = execFileSync("/usr/sbin/haproxy", ["-c", "-f", join(dir, "haproxy.cfg")], {
        encoding: "utf8",
      });
      expect(output).toContain("Configuration file is valid");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("domain map files", () => {
  it("round-trips host → backend lines and skips comments and blanks", () => {
    const entries = parseDomainMap(
      "# routes\nshop.localhost app_shop__web\n\nblog.example.com  app_blog__web\n",
    );
    expect([...entries]).toEqual([
      ["shop.localhost", "app_shop__web"],
      ["blog.example.com", "app_blog__web"],
    ]);
    expect(renderDomainMap(entries)).toBe(
      "shop.localhost app_shop__web\nblog.example.com app_blog__web\n",
    );
  });
});

describe("parseShowInfo", () => {
  it("reads HAProxy's Key: value lines", () => {
    expect(parseShowInfo("Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 42\n\n")).toEqual({
      Name: "HAProxy",
      Version: "2.6.12-1+deb12u4",
      Pid: "42",
    });
  });
});
