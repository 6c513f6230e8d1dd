// Realistic Compose files, written for these tests in the styles people
// publish (official examples of self-hosted projects, sample stacks), each
// with what Skiff must make of it: accepted or not, which services are
// routed on which container port, which keys warn, which values are errors.
// The tree says which repository paths each file's commit holds.

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type MemoryTreeContents, memoryTree } from "./memory-tree.js";
import { parseSpec } from "./parse.js";
import { toPlan } from "./plan.js";

const DIR = fileURLToPath(new URL("./fixtures/corpus/", import.meta.url));

interface Expected {
  /** Repository paths of the commit besides the spec (a Dockerfile at the root is always there). */
  tree?: MemoryTreeContents;
  env?: Record<string, string>;
  /** Routed services and their container ports; absent for a refused file. */
  routes?: Record<string, number>;
  /** Paths of the warnings, in file order (one per path). */
  warnings?: string[];
  /** Paths of the errors with a telling part of each message; present only for a refused file. */
  errors?: [path: string, says: string][];
}

const NOT_HTTP = "not HTTP, so the edge does not route it";
const NO_ROUTE = "nothing will be reachable from outside the app";

const corpus: Record<string, Expected> = {
  "01-wordpress-mysql.yaml": { routes: { wordpress: 80 } },
  "02-nextcloud-mariadb-redis.yaml": {
    routes: { app: 80 },
    warnings: ["version", "services.app.links"],
  },
  "03-nginx-php-fpm.yaml": {
    tree: {
      files: { "nginx/default.conf": "", "docker/php/Dockerfile": "" },
      directories: ["public"],
    },
    routes: { web: 80 },
    warnings: ["services.php.volumes[0]"],
  },
  "04-django-postgres.yaml": {
    routes: { web: 8000 },
    warnings: ["services.db.volumes[0]", "services.web.volumes[0]"],
  },
  "05-node-express-mongo.yaml": {
    tree: { files: { "backend/Dockerfile": "" } },
    routes: { api: 3000 },
    warnings: ["services.api.volumes[0]", "services.api.volumes[1]", "services.mongo.ports[0]"],
  },
  "06-flask-redis.yaml": { routes: { web: 5000 } },
  "07-memcached-app.yaml": {
    tree: { files: { "app/Dockerfile": "" } },
    routes: { app: 3000 },
    warnings: ["services.cache.ports[0]"],
  },
  "08-rabbitmq-worker.yaml": {
    tree: { files: { "worker/Dockerfile": "" } },
    routes: { rabbitmq: 15672 },
    warnings: ["services.rabbitmq.ports[0]"],
  },
  "09-elasticsearch-kibana.yaml": {
    routes: { elasticsearch: 9200, kibana: 5601 },
    warnings: ["services.elasticsearch.ports[1]", "volumes.esdata.driver"],
  },
  "10-traefik-docker-sock.yaml": {
    warnings: ["services.reverse-proxy.ports[1]"],
    errors: [["services.reverse-proxy.volumes[0]", "the Docker socket is never mounted"]],
  },
  "11-gitea-data-dir.yaml": {
    routes: { server: 3000 },
    warnings: [
      "version",
      "services.server.container_name",
      "services.server.volumes[0]",
      "services.server.volumes[1]",
      "services.server.volumes[2]",
      "services.server.ports[1]",
      "services.db.volumes[0]",
    ],
  },
  "12-secrets-password-file.yaml": {
    tree: { files: { "secrets/db_password.txt": "" } },
    env: { API_KEY: "k" },
    routes: { app: 8000 },
  },
  "13-configs.yaml": {
    tree: { files: { "nginx.conf": "" } },
    routes: { proxy: 80 },
    warnings: ["configs.app_settings.environment"],
  },
  "14-extends.yaml": { routes: { web: 8000 } },
  "15-profiles.yaml": {
    routes: { app: 3000 },
    warnings: [
      "services.app.depends_on[1]",
      "services.mailhog.profiles",
      "services.adminer.profiles",
    ],
  },
  "16-anchors.yaml": {
    tree: { files: { "web/Dockerfile": "" } },
    routes: { web: 3000 },
    // One warning for the logging: key all three services take from the anchor.
    warnings: ["services.web.logging"],
  },
  "17-prometheus-grafana.yaml": {
    tree: { files: { "prometheus/prometheus.yml": "", "grafana/datasource.yml": "" } },
    routes: { prometheus: 9090, grafana: 3000 },
    warnings: [
      "services.prometheus.container_name",
      "services.prometheus.volumes[0]",
      "services.grafana.container_name",
      "services.grafana.volumes[0]",
    ],
  },
  "18-react-nginx-multistage.yaml": {
    tree: { files: { "frontend/Dockerfile": "", "backend/Dockerfile": "" } },
    routes: { frontend: 80 },
  },
  "19-go-redis-long-ports.yaml": { routes: { api: 8080 } },
  "20-minio.yaml": { routes: { minio: 9000 }, warnings: ["services.minio.ports[1]"] },
  "21-vaultwarden.yaml": {
    routes: { vaultwarden: 80 },
    warnings: ["services.vaultwarden.container_name", "services.vaultwarden.volumes[0]"],
  },
  "22-uptime-kuma.yaml": {
    routes: { "uptime-kuma": 3001 },
    warnings: ["version", "services.uptime-kuma.container_name"],
  },
  "23-portainer-docker-sock.yaml": {
    warnings: ["services.portainer.ports[0]"],
    errors: [["services.portainer.volumes[1]", "root on the host"]],
  },
  "24-ghost-mysql.yaml": { routes: { ghost: 2368 } },
  "25-spring-postgres.yaml": {
    tree: { files: { "backend/Dockerfile": "", "db/password.txt": "" } },
    routes: { backend: 8080 },
  },
  "26-keycloak.yaml": { routes: { keycloak: 8080 }, warnings: ["volumes.postgres_data.driver"] },
  "27-pihole-caps.yaml": {
    routes: { pihole: 80 },
    warnings: [
      "services.pihole.container_name",
      "services.pihole.ports[0]",
      "services.pihole.ports[1]",
      "services.pihole.volumes[0]",
      "services.pihole.volumes[1]",
      "services.pihole.cap_add",
    ],
  },
  "28-jellyfin-devices.yaml": {
    warnings: ["services.jellyfin.devices"],
    errors: [["services.jellyfin.network_mode", "never share the host's network namespace"]],
  },
  "29-hardened-app.yaml": { routes: { api: 8080 } },
  "30-seccomp-unconfined.yaml": {
    routes: { browser: 3000 },
    warnings: ["services.browser.security_opt[0]", "services.browser.security_opt[1]"],
  },
  "31-multi-network-aliases.yaml": {
    tree: { files: { "proxy/nginx.conf": "", "app/Dockerfile": "" } },
    routes: { proxy: 80 },
    warnings: ["networks", "networks.backend.driver"],
  },
  "32-mailserver-smtp.yaml": {
    routes: {},
    warnings: [
      "services",
      "services.mailserver.ports[0]",
      "services.mailserver.ports[1]",
      "services.mailserver.ports[2]",
      "services.mailserver.ports[3]",
      "services.mailserver.volumes[0]",
      "services.mailserver.volumes[1]",
      "services.mailserver.volumes[2]",
    ],
  },
  "33-kafka-zookeeper.yaml": {
    routes: { "kafka-ui": 8080 },
    warnings: ["services.zookeeper.ports[0]", "services.kafka.ports[0]"],
  },
  "34-fastapi-healthcheck-envfile.yaml": {
    tree: { files: { ".env.example": "DATABASE_URL=sqlite:///db.sqlite3\n" } },
    routes: { api: 80 },
  },
  "35-rails-sidekiq.yaml": { routes: { web: 3000 } },
  "36-underscore-service-names.yaml": { routes: { web_app: 5000 } },
  "37-mosquitto-nodered.yaml": {
    tree: { files: { "mosquitto/config/mosquitto.conf": "" } },
    routes: { mosquitto: 9001, "node-red": 1880 },
    warnings: ["services.mosquitto.ports[0]"],
  },
  "38-external-secret.yaml": {
    errors: [["secrets.tls_key.external", "Skiff has no external secret store yet"]],
  },
  "39-nats-cluster.yaml": {
    tree: { files: { "publisher/Dockerfile": "" } },
    routes: { nats: 8222 },
    warnings: ["services.nats.ports[0]"],
  },
  "40-cassandra-app.yaml": {
    routes: { app: 8080 },
    warnings: ["services.cassandra.ports[0]"],
  },
  "41-multi-document.yaml": { errors: [["", "more than one YAML document"]] },
  "42-privileged-dind.yaml": {
    routes: { app: 3000 },
    warnings: ["services.runner.privileged"],
  },
  "43-worker-only.yaml": {
    env: { BOT_TOKEN: "t" },
    routes: {},
    warnings: ["services"],
  },
  "44-extends-no-image.yaml": {
    errors: [
      ["services.common", "needs build: (a directory with a Dockerfile) or image:"],
      ["services.app", "it extends common, which has neither"],
    ],
  },
  "45-anchor-error-repeated.yaml": {
    errors: [
      [
        "services.web.deploy.resources.limits.memory",
        "used at services.web.deploy.resources.limits.memory, services.worker.deploy.resources.limits.memory",
      ],
    ],
  },
  "46-range-ports-udp.yaml": {
    routes: { game: 7777, web: 80 },
    warnings: ["services.game.ports[0]", "services.game.ports[1]"],
  },
  "47-env-file-bad-line.yaml": {
    tree: { files: { "app.env": "PORT=3000\nsk_live_51Habc\n" } },
    routes: { web: 3000 },
    warnings: ["services.web.env_file"],
  },
  "48-phpmyadmin-mysql-dev.yaml": {
    tree: { files: { "init.sql": "", "src/Dockerfile": "" } },
    routes: { phpmyadmin: 80, app: 80 },
    warnings: [
      "services.db.volumes[0]",
      "services.db.volumes[1]",
      "services.db.ports[0]",
      "services.app.volumes[0]",
    ],
  },
  "49-xskiff-port-choice.yaml": { routes: { app: 8080 }, warnings: ["services.app.ports[0]"] },
  "50-extends-other-file.yaml": {
    errors: [["services.web.extends.file", "extends from another file is not supported"]],
  },
  "51-external-network.yaml": {
    errors: [["networks.proxy.external", "external networks are refused"]],
  },
  "52-restart-healthcheck-disable.yaml": { routes: { web: 3000 } },
  "53-whole-file-token.yaml": { errors: [["", "(got a plain string)"]] },
  "54-pid-host-ipc.yaml": {
    routes: { monitor: 8126 },
    warnings: [
      "services.monitor.pid",
      "services.monitor.ipc",
      "services.monitor.userns_mode",
      "services.monitor.ports[0]",
    ],
  },
  "55-long-bind-readonly.yaml": {
    tree: { files: { Caddyfile: "" }, directories: ["site"] },
    routes: { web: 80 },
    warnings: ["services.web.ports[1]"],
  },
};

function run(file: string, expected: Expected) {
  const tree = memoryTree({
    ...expected.tree,
    files: { Dockerfile: "FROM scratch\n", ...expected.tree?.files },
  });
  const text = readFileSync(`${DIR}${file}`, "utf8");
  return {
    text,
    result: parseSpec(text, { fileName: "compose.yaml", env: expected.env ?? {}, tree }),
  };
}

describe("the corpus of realistic Compose files", () => {
  it("has at least 40 files, each with an expected outcome", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(Object.keys(corpus).sort()).toEqual(files);
  });

  it.each(Object.entries(corpus))("%s", (file, expected) => {
    const { text, result } = run(file, expected);
    expect(result.warnings.map((w) => w.path)).toEqual(expected.warnings ?? []);
    for (const problem of [...result.warnings, ...(result.ok ? [] : result.errors)]) {
      expect(problem.line, problem.message).toBeGreaterThan(0);
    }
    if (expected.errors) {
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors.map((e) => e.path)).toEqual(expected.errors.map(([path]) => path));
      result.errors.forEach((e, i) => {
        expect(e.message).toContain(expected.errors?.[i]?.[1]);
      });
      return;
    }
    if (!result.ok) {
      expect(result.errors).toEqual([]);
      return;
    }
    const plan = toPlan(result.spec, "app");
    const routes = Object.fromEntries(
      plan.services.filter((s) => s.routes.length > 0).map((s) => [s.name, s.routes[0]?.port]),
    );
    expect(routes).toEqual(expected.routes);
    // Every routed service is a web (or stateful) service reachable at an address of the app.
    const reachable = plan.services.some((s) => s.routes.some((r) => r.domain === "app.localhost"));
    const explicit = plan.services.some((s) =>
      s.routes.some((r) => !r.domain.endsWith(".localhost")),
    );
    expect(reachable || explicit || Object.keys(expected.routes ?? {}).length === 0).toBe(true);
    if (Object.keys(expected.routes ?? {}).length === 0) {
      expect(result.warnings.some((w) => w.message.includes(NO_ROUTE))).toBe(true);
    }
    void text;
  });

  it("a port of a database, cache or broker is never routed, and the warning says how to reach it", () => {
    const { result } = run(
      "33-kafka-zookeeper.yaml",
      corpus["33-kafka-zookeeper.yaml"] as Expected,
    );
    const messages = result.warnings.map((w) => w.message);
    expect(messages[0]).toContain(`ZooKeeper's, ${NOT_HTTP}`);
    expect(messages[0]).toContain("other services reach it as zookeeper:2181 on the app network");
    expect(messages[0]).toContain("nothing is published on the host");
  });

  it("no problem quotes a file's content beyond the offending token", () => {
    const token = run("53-whole-file-token.yaml", corpus["53-whole-file-token.yaml"] as Expected);
    const secret = token.text.trim();
    const envFile = run(
      "47-env-file-bad-line.yaml",
      corpus["47-env-file-bad-line.yaml"] as Expected,
    );
    const all = [token.result, envFile.result].flatMap((r) => [
      ...r.warnings,
      ...(r.ok ? [] : r.errors),
    ]);
    for (const p of all) {
      expect(p.message).not.toContain(secret.slice(0, 12));
      expect(p.message).not.toContain("sk_live");
    }
    expect(envFile.result.warnings[0]?.message).toBe(
      'env file "app.env", line 2: is not a KEY=VALUE assignment, so it is skipped',
    );
  });

  it("a bind of the repository becomes files of the release, and a missing data directory a named volume", () => {
    const { result } = run("03-nginx-php-fpm.yaml", corpus["03-nginx-php-fpm.yaml"] as Expected);
    if (!result.ok) throw new Error("refused");
    expect(result.spec.services.web?.files).toEqual([
      {
        origin: "bind",
        name: "nginx/default.conf",
        target: "/etc/nginx/conf.d/default.conf",
        source: { type: "tree", path: "nginx/default.conf", kind: "file" },
      },
      {
        origin: "bind",
        name: "public",
        target: "/var/www/html/public",
        source: { type: "tree", path: "public", kind: "directory" },
      },
    ]);
    const gitea = run("11-gitea-data-dir.yaml", corpus["11-gitea-data-dir.yaml"] as Expected);
    if (!gitea.result.ok) throw new Error("refused");
    expect(gitea.result.spec.volumes).toEqual(["gitea", "postgres"]);
    const plan = toPlan(gitea.result.spec, "git");
    expect(plan.services.map((s) => [s.name, s.kind])).toEqual([
      ["db", "stateful"],
      ["server", "stateful"],
    ]);
  });

  it("secrets and configs are files at their Compose paths and modes", () => {
    const { result } = run(
      "12-secrets-password-file.yaml",
      corpus["12-secrets-password-file.yaml"] as Expected,
    );
    if (!result.ok) throw new Error("refused");
    expect(result.spec.services.app?.files).toEqual([
      {
        origin: "secret",
        name: "db_password",
        target: "/run/secrets/db_pass",
        mode: 0o440,
        uid: "1000",
        gid: "1000",
        source: { type: "tree", path: "secrets/db_password.txt", kind: "file" },
      },
      {
        origin: "secret",
        name: "api_key",
        target: "/run/secrets/api_key",
        mode: 0o444,
        source: { type: "environment", variable: "API_KEY" },
      },
    ]);
    const configs = run("13-configs.yaml", corpus["13-configs.yaml"] as Expected);
    if (!configs.result.ok) throw new Error("refused");
    expect(configs.result.spec.services.proxy?.files?.map((f) => [f.target, f.mode])).toEqual([
      ["/etc/nginx/nginx.conf", 0o444],
      ["/site", 0o444],
    ]);
  });

  it("a secret file missing from the commit is an error where it is declared", () => {
    const { result } = run("12-secrets-password-file.yaml", { env: { API_KEY: "k" } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => [e.path, e.line])).toEqual([["secrets.db_password.file", 28]]);
    expect(result.errors[0]?.message).toContain("is not in the repository");
  });
});
