import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  NOT_FOUND_PAGE,
  renderBackend,
  renderEdgeConfig,
  serverArguments,
} from "./config-render.js";
import { parseDomainMap, renderDomainMap } from "./domain-map.js";
import { parseShowInfo } from "./runtime-api.js";

const input = {
  httpPort: 8080,
  statsPort: 8404,
  runtimeSocket: "/srv/skiff/run/haproxy.sock",
  domainMapFile: "/srv/skiff/edge/domains.map",
  notFoundPageFile: "/srv/skiff/edge/not-found.html",
  backends: [],
};

const shop = {
  name: "app_shop__web",
  healthPath: "/healthz",
  healthHost: "shop.localhost",
  servers: [
    { name: "r12-1", address: { host: "127.0.0.1", port: 32801 } },
    { name: "r11-1", address: { host: "127.0.0.1", port: 32790 }, draining: true },
  ],
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
    // The lookup inside use_backend, with no variable set before it (a set-var cost CPU per request).
    expect(config).toContain(
      "use_backend %[req.hdr(host),field(1,:),lower,map(/srv/skiff/edge/domains.map)]",
    );
    expect(config).not.toMatch(/http-request set-var/);
    expect(config).toContain("default_backend skiff_not_found");
    expect(config).toContain("http-request return status 404");
    expect(config).toContain("file /srv/skiff/edge/not-found.html");
  });

  it("tells apps who asked, replacing the X-Forwarded-* headers a client sent", () => {
    const frontend = config.slice(
      config.indexOf("frontend skiff_http"),
      config.indexOf("frontend skiff_stats"),
    );
    expect(frontend).toContain(`    bind :8080
    # Tell the app who asked, replacing whatever the client sent in these headers.
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Real-IP %[src]
    http-request del-header Forwarded
    # Route by the Host header without its port, case-insensitively.`);
    // add-header and option forwardfor would keep the client's value beside Skiff's.
    expect(config).not.toMatch(/add-header X-Forwarded|option forwardfor/);
  });

  it("logs HAProxy's own messages but builds no log line per request", () => {
    expect(config).toContain("\n    log stderr format short local0 notice\n");
    // A `log` line in a proxy (or in defaults) makes HAProxy build a line for every request.
    expect(config.match(/^\s*log /gm)).toHaveLength(1);
    expect(config).not.toMatch(/option (httplog|dontlognull)|log-format/);
  });

  it("has no app backend while no app is deployed", () => {
    expect(config.endsWith("file /srv/skiff/edge/not-found.html\n")).toBe(true);
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
      writeFileSync(
        join(dir, "haproxy.cfg"),
        renderEdgeConfig({ ...files, backends: [shop, { ...shop, name: "app_blog__web" }] }),
      );
      const output = execFileSync("/usr/sbin/haproxy", ["-c", "-f", join(dir, "haproxy.cfg")], {
        encoding: "utf8",
      });
      expect(output).toContain("Configuration file is valid");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("renderBackend", () => {
  it.each([
    {
      case: "replicas with a health check, retries for idempotent requests; draining at weight 0",
      backend: shop,
      expected: `
backend app_shop__web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host shop.localhost hdr User-Agent skiff-edge-check
    http-check expect status 200-399
    retry-on conn-failure empty-response 502 503 504
    http-request disable-l7-retry unless METH_GET or METH_OPTIONS or METH_PUT or METH_DELETE or METH_TRACE
    retries 3
    option redispatch 1
    server r12-1 127.0.0.1:32801 check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2 pool-max-conn -1 pool-purge-delay 5s
    server r11-1 127.0.0.1:32790 check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2 pool-max-conn -1 pool-purge-delay 5s weight 0
`,
    },
    {
      case: "no servers yet, and the health check's Host defaults to localhost",
      backend: { name: "app_api__web", healthPath: "/", servers: [] },
      expected: `
backend app_api__web
    balance roundrobin
    option httpchk
    http-check send meth GET uri / ver HTTP/1.1 hdr Host localhost hdr User-Agent skiff-edge-check
    http-check expect status 200-399
    retry-on conn-failure empty-response 502 503 504
    http-request disable-l7-retry unless METH_GET or METH_OPTIONS or METH_PUT or METH_DELETE or METH_TRACE
    retries 3
    option redispatch 1
`,
    },
  ])("$case", ({ backend, expected }) => {
    expect(renderBackend(backend)).toBe(expected);
  });

  it("follows the 404 backend in the whole file, after one note on the settings", () => {
    const text = renderEdgeConfig({ ...input, backends: [shop] });
    expect(text.indexOf("backend skiff_not_found")).toBeLessThan(text.indexOf("# App backends."));
    expect(text.endsWith(renderBackend(shop))).toBe(true);
  });
});

describe("serverArguments", () => {
  it.each([
    {
      weight: undefined,
      expected:
        "127.0.0.1:32801 check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2 pool-max-conn -1 pool-purge-delay 5s",
    },
    {
      weight: 0,
      expected:
        "127.0.0.1:32801 check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2 pool-max-conn -1 pool-purge-delay 5s weight 0",
    },
  ])("weight $weight", ({ weight, expected }) => {
    expect(serverArguments({ address: { host: "127.0.0.1", port: 32801 } }, weight)).toBe(expected);
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
