// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests hold Compose interpolation syntax, written literally
import { describe, expect, it } from "vitest";
import { memoryTree } from "./memory-tree.js";
import { parseSpec } from "./parse.js";
import { formatProblem } from "./problem.js";
import type { AppSpec, ServiceSpec } from "./types.js";

/** Strips the leading newline and the common indentation, so line numbers count from the first YAML line. */
function yaml(text: string): string {
  const lines = text
    .replace(/^\n/, "")
    .replace(/\n\s*$/, "\n")
    .split("\n");
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)?.[0].length ?? 0);
  const indent = Math.min(...indents);
  return lines.map((l) => l.slice(indent)).join("\n");
}

interface Case {
  name: string;
  yaml: string;
  env?: Record<string, string>;
  /** Text files of the tree (env_file, secrets, binds), by path relative to the spec. */
  files?: Record<string, string>;
  /** Directories of the tree, and paths that lead outside it. */
  directories?: string[];
  outside?: string[];
  /** Invalid specs: every error, formatted, in file order. */
  errors?: string[];
  /** Warnings, formatted; defaults to none. */
  warnings?: string[];
  /** Valid specs: the named fields of each service, compared with toEqual. */
  services?: Record<string, Partial<ServiceSpec>>;
  /** Valid specs: top-level fields of the spec. */
  spec?: Partial<Pick<AppSpec, "volumes" | "tests">>;
  /** The warning that nothing is routed is left out of `warnings` unless a case is about it. */
  expectNoRoute?: boolean;
}

const NO_ROUTE =
  'services: no service has an HTTP port to route, so nothing will be reachable from outside the app: give the web service ports: (e.g. ports: ["8080:3000"], the container port after the colon) or x-skiff.port: 3000, and the edge routes it at the app\'s domain';

const EXAMPLE = "e.g. services: { web: { build: ., x-skiff: { port: 3000 } } }";
const HOST_PATH =
  "is a path on the host: Skiff never mounts host paths into a replica, because a release must run the same on any host and a commit must not reach the host's files. Keep the files in the repository and mount them read-only";
const DNS =
  "service names may hold letters and digits, separated by - or _, at most 63 characters, because a service's name is its hostname on the app network and part of its image's name";
const AUTOSCALE =
  "x-skiff.autoscale is accepted, but Skiff does not scale on CPU yet: the service runs deploy.replicas (default: autoscale.min) replicas; change the count with skiff scale";
const STATEFUL =
  "a service with a named volume (data) is stateful: it runs as one container, because two must never write the same volume at once";

const cases: Case[] = [
  // ---------------------------------------------------------------- valid
  {
    name: "minimal build service gets Skiff's defaults",
    yaml: `
      services:
        web:
          build: .
    `,
    services: {
      web: {
        name: "web",
        build: { context: ".", dockerfile: "Dockerfile", args: {} },
        replicas: 1,
        environment: {},
        dependsOn: [],
        volumes: [],
        limits: {},
        update: { order: "start-first", failureAction: "rollback" },
        skiff: { domains: [] },
      },
    },
    spec: { volumes: [], tests: [] },
  },
  {
    name: "build long form: normalised context, list args, arg without value from env",
    yaml: `
      services:
        api:
          build:
            context: ./api/
            dockerfile: docker/Dockerfile.prod
            target: runtime
            args: [NODE_VERSION=20, GIT_SHA, UNSET_ARG]
    `,
    env: { GIT_SHA: "abc123" },
    services: {
      api: {
        build: {
          context: "api",
          dockerfile: "docker/Dockerfile.prod",
          target: "runtime",
          args: { NODE_VERSION: "20", GIT_SHA: "abc123" },
        },
      },
    },
  },
  {
    name: "build args as a mapping with numbers, booleans and an empty value",
    yaml: `
      services:
        api:
          build: { context: ., args: { RETRIES: 3, DEBUG: true, TOKEN: } }
    `,
    env: { TOKEN: "t0k" },
    services: {
      api: {
        build: {
          context: ".",
          dockerfile: "Dockerfile",
          args: { RETRIES: "3", DEBUG: "true", TOKEN: "t0k" },
        },
      },
    },
  },
  {
    name: "build with image: the image names the built tag",
    yaml: `
      services:
        api:
          build: ./api
          image: registry.example.com:5000/team/api:1.4
        cache:
          image: local/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    `,
    services: {
      api: {
        build: { context: "api", dockerfile: "Dockerfile", args: {} },
        image: "registry.example.com:5000/team/api:1.4",
      },
      cache: {
        image:
          "local/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      },
    },
  },
  {
    name: "command and entrypoint: string split like Compose, list kept, empty clears",
    yaml: `
      services:
        web:
          image: app
          command: npm run "start server" --port=3000 'a b'
          entrypoint: ["/bin/tini", "--"]
        worker:
          image: app
          command: [node, worker.js, 5]
          entrypoint: ""
        idle:
          image: app
          command:
    `,
    services: {
      web: {
        command: ["npm", "run", "start server", "--port=3000", "a b"],
        entrypoint: ["/bin/tini", "--"],
      },
      worker: { command: ["node", "worker.js", "5"], entrypoint: [] },
      idle: { command: undefined, entrypoint: undefined },
    },
  },
  {
    name: "environment list form: values with =, and names taken from the env",
    yaml: `
      services:
        web:
          image: app
          environment:
            - A=1
            - B=x=y
            - C
            - EMPTY=
    `,
    env: { C: "from-env" },
    services: { web: { environment: { A: "1", B: "x=y", C: "from-env", EMPTY: "" } } },
  },
  {
    name: "environment mapping: numbers and booleans become strings, empty takes from env",
    yaml: `
      services:
        web:
          image: app
          environment:
            PORT: 3000
            DEBUG: false
            RATIO: 0.5
            SECRET:
            MISSING:
    `,
    env: { SECRET: "s3" },
    services: {
      web: { environment: { PORT: "3000", DEBUG: "false", RATIO: "0.5", SECRET: "s3" } },
    },
    warnings: [
      "compose.yaml:9:7 services.web.environment.MISSING: variable MISSING is not set in the app's config or .env; the container will not have it",
    ],
  },
  {
    name: "env_file: string and list forms, later files and environment: win",
    yaml: `
      services:
        web:
          image: app
          env_file:
            - .env.web
            - path: ./config/extra.env
            - path: optional.env
              required: false
          environment: { C: override }
        worker:
          image: app
          env_file: config/extra.env
    `,
    files: {
      ".env.web": "A=1\nB=2\n",
      "config/extra.env": "# extra\nB=3\nC=4\n",
    },
    services: {
      web: { environment: { A: "1", B: "3", C: "override" } },
      worker: { environment: { B: "3", C: "4" } },
    },
  },
  {
    name: "expose: numbers, protocols and ranges",
    yaml: `
      services:
        web:
          image: app
          expose: [3000, "4000/udp", "8000-8002"]
    `,
    services: {
      web: { expose: ["3000/tcp", "4000/udp", "8000/tcp", "8001/tcp", "8002/tcp"] },
    },
  },
  {
    name: "healthcheck: string test runs in a shell; Compose durations become ms",
    yaml: `
      services:
        web:
          image: app
          healthcheck:
            test: curl -f http://localhost/ || exit 1
            interval: 1m30s
            timeout: 500ms
            retries: 5
            start_period: 2h45m
    `,
    services: {
      web: {
        healthcheck: {
          disabled: false,
          test: ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
          intervalMs: 90_000,
          timeoutMs: 500,
          retries: 5,
          startPeriodMs: 9_900_000,
        },
      },
    },
  },
  {
    name: "healthcheck: list with CMD; NONE and disable: true turn it off",
    yaml: `
      services:
        db:
          image: postgres
          healthcheck: { test: [CMD, pg_isready, -U, app], interval: 10s }
        a:
          image: app
          healthcheck: { test: [NONE] }
        b:
          image: app
          healthcheck: { disable: true }
    `,
    services: {
      db: {
        healthcheck: {
          disabled: false,
          test: ["CMD", "pg_isready", "-U", "app"],
          intervalMs: 10_000,
        },
      },
      a: { healthcheck: { disabled: true } },
      b: { healthcheck: { disabled: true } },
    },
  },
  {
    name: "depends_on: list form and mapping form with conditions",
    yaml: `
      services:
        web:
          image: app
          depends_on: [cache]
        api:
          image: app
          depends_on:
            db: { condition: service_healthy }
            migrate: { condition: service_completed_successfully }
            cache: {}
        db:
          image: postgres
          healthcheck: { test: [CMD, pg_isready] }
        migrate:
          image: app
        cache:
          image: redis
    `,
    services: {
      web: { dependsOn: [{ service: "cache", condition: "service_started" }] },
      api: {
        dependsOn: [
          { service: "db", condition: "service_healthy" },
          { service: "migrate", condition: "service_completed_successfully" },
          { service: "cache", condition: "service_started" },
        ],
      },
    },
  },
  {
    name: "named volumes: short and long forms make a service stateful (stop-first)",
    yaml: `
      services:
        db:
          image: postgres
          volumes:
            - data:/var/lib/postgresql/data
            - "cache:/cache:ro"
            - { type: volume, source: uploads, target: /uploads, read_only: true }
      volumes:
        data:
        cache: {}
        uploads: {}
    `,
    services: {
      db: {
        volumes: [
          { source: "data", target: "/var/lib/postgresql/data", readOnly: false },
          { source: "cache", target: "/cache", readOnly: true },
          { source: "uploads", target: "/uploads", readOnly: true },
        ],
        update: { order: "stop-first", failureAction: "rollback" },
      },
    },
    spec: { volumes: ["data", "cache", "uploads"] },
  },
  {
    name: "deploy: replicas, limits (cpus as string, memory in Compose units), update_config",
    yaml: `
      services:
        web:
          image: app
          deploy:
            replicas: 3
            resources: { limits: { cpus: "0.5", memory: 512m } }
            update_config: { order: stop-first, failure_action: pause }
    `,
    services: {
      web: {
        replicas: 3,
        limits: { cpus: 0.5, memoryBytes: 512 * 1024 * 1024 },
        update: { order: "stop-first", failureAction: "pause" },
      },
    },
  },
  {
    name: "stop_grace_period, user, working_dir, labels in list and mapping forms",
    yaml: `
      services:
        web:
          image: app
          stop_grace_period: 1m30s
          user: 1000
          working_dir: /srv/app
          labels: [com.example.team=shop, flag]
        worker:
          image: app
          user: "node:node"
          labels: { a: 1, b: }
    `,
    services: {
      web: {
        stopGracePeriodMs: 90_000,
        user: "1000",
        workingDir: "/srv/app",
        labels: { "com.example.team": "shop", flag: "" },
      },
      worker: { user: "node:node", labels: { a: "1", b: "" } },
    },
  },
  {
    name: "x-skiff: port, domains lowercased, health and autoscale defaults, budget in bytes",
    yaml: `
      services:
        web:
          build: .
          x-skiff:
            port: 3000
            domains: [Shop.Example.com, www.shop.example.com]
            health: { path: /healthz }
            autoscale: { min: 2, max: 6 }
            budget: { image: 150MB }
    `,
    services: {
      web: {
        replicas: 2,
        skiff: {
          port: 3000,
          domains: ["shop.example.com", "www.shop.example.com"],
          health: { path: "/healthz", timeoutMs: 30_000, intervalMs: 2_000, retries: 3 },
          autoscale: { min: 2, max: 6, cpuPercent: 70 },
          budget: { imageBytes: 150 * 1024 * 1024 },
        },
      },
    },
    warnings: [
      `compose.yaml:8:7 services.web.x-skiff.autoscale: ${AUTOSCALE}`,
      "compose.yaml:9:7 services.web.x-skiff.budget: x-skiff.budget is accepted, but Skiff does not check images against it yet",
    ],
  },
  {
    name: "x-skiff.health.stable_for: on a worker, and on a service whose checks are disabled",
    yaml: `
      services:
        jobs:
          build: .
          x-skiff: { health: { stable_for: 1m30s } }
        admin:
          build: .
          healthcheck: { disable: true }
          x-skiff: { port: 4000, health: { stable_for: 500ms } }
    `,
    services: {
      jobs: { skiff: { domains: [], stableForMs: 90_000 } },
      admin: { skiff: { port: 4000, domains: [], stableForMs: 500 } },
    },
  },
  {
    name: "x-skiff.health: {} still asks for the HTTP check with its defaults",
    yaml: `
      services:
        web:
          build: .
          x-skiff: { port: 3000, health: {} }
    `,
    services: {
      web: {
        skiff: {
          port: 3000,
          domains: [],
          health: { path: "/", timeoutMs: 30_000, intervalMs: 2_000, retries: 3 },
        },
      },
    },
  },
  {
    name: "top-level x-skiff.test",
    yaml: `
      services:
        web:
          build: .
      x-skiff:
        test:
          - { service: web, run: npm test }
          - service: web
            run: npm run lint
          - { service: web, run: ./smoke-test-against-staging, cache: false }
          - { service: web, run: npm run e2e, cache: true }
    `,
    spec: {
      tests: [
        { service: "web", run: "npm test" },
        { service: "web", run: "npm run lint" },
        { service: "web", run: "./smoke-test-against-staging", cache: false },
        { service: "web", run: "npm run e2e" },
      ],
    },
  },
  {
    name: "interpolation: every form, nested defaults and $$",
    yaml: `
      services:
        web:
          image: app
          environment:
            A: $HOST
            B: \${HOST}
            C: \${UNSET:-dflt}
            D: \${EMPTY:-dflt}
            E: \${EMPTY-dflt}
            F: \${HOST:+alt}
            G: \${EMPTY:+alt}
            H: \${EMPTY+alt}
            I: \${UNSET+alt}
            J: $$HOME
            K: \${HOST:?needed}
            L: \${EMPTY?ok when set}
            M: \${UNSET:-\${HOST}:5432}
            N: "postgres://$HOST:\${PORT:-5432}/db"
    `,
    env: { HOST: "db", EMPTY: "" },
    services: {
      web: {
        environment: {
          A: "db",
          B: "db",
          C: "dflt",
          D: "dflt",
          E: "",
          F: "alt",
          G: "",
          H: "alt",
          I: "",
          J: "$HOME",
          K: "db",
          L: "",
          M: "db:5432",
          N: "postgres://db:5432/db",
        },
      },
    },
  },
  {
    name: "interpolated numbers and booleans are accepted where Compose accepts them",
    yaml: `
      services:
        web:
          image: app:\${TAG:-latest}
          deploy: { replicas: "\${REPLICAS}" }
          healthcheck: { disable: "\${NO_CHECK}" }
          x-skiff: { port: "\${PORT:-8080}" }
    `,
    env: { REPLICAS: "3", NO_CHECK: "true" },
    services: {
      web: {
        image: "app:latest",
        replicas: 3,
        healthcheck: { disabled: true },
        skiff: { port: 8080, domains: [] },
      },
    },
  },
  {
    name: "unset variable: a warning at the value, and an empty string",
    yaml: `
      services:
        web:
          image: app
          environment:
            GREETING: "hello \${NAME}!"
            OTHER: $ALSO_UNSET
    `,
    services: { web: { environment: { GREETING: "hello !", OTHER: "" } } },
    warnings: [
      "compose.yaml:5:17 services.web.environment.GREETING: variable NAME is not set; using an empty string",
      "compose.yaml:6:14 services.web.environment.OTHER: variable ALSO_UNSET is not set; using an empty string",
    ],
  },
  {
    name: "x-* keys are ignored silently, YAML anchors and merge keys work",
    yaml: `
      x-defaults: &defaults
        image: app
        environment: { LOG: info }
      services:
        web:
          <<: *defaults
          x-note: anything
          deploy: { replicas: 2, x-team: shop }
        worker:
          <<: *defaults
          image: worker
    `,
    services: {
      web: { image: "app", environment: { LOG: "info" }, replicas: 2 },
      worker: { image: "worker", environment: { LOG: "info" } },
    },
  },
  {
    name: "Compose keys Skiff does not honour: warnings with what to do instead, or why it never grants them",
    yaml: `
      version: "3.9"
      services:
        web:
          image: app
          ports: ["8080:3000"]
          logging: { driver: json-file }
          container_name: web1
          privileged: true
          cap_add: [NET_ADMIN]
          deploy:
            restart_policy: { condition: on-failure, delay: 5s }
          healthcheck: { test: [CMD, true], start_interval: 1s }
      networks:
        default: { driver: bridge }
    `,
    services: {
      web: { image: "app", skiff: { port: 3000, domains: [] }, restart: { policy: "on-failure" } },
    },
    warnings: [
      "compose.yaml:1:1 version: `version` is a Compose key Skiff ignores: the version key is obsolete in Compose; remove it",
      "compose.yaml:6:5 services.web.logging: `logging` is a Compose key Skiff ignores: Skiff collects container logs itself (skiff logs)",
      "compose.yaml:7:5 services.web.container_name: `container_name` is a Compose key Skiff ignores: Skiff names each replica's container itself, because replicas (and two releases side by side) need their own names",
      "compose.yaml:8:5 services.web.privileged: `privileged` is never granted: a privileged container is root on the host, so replicas never run privileged (DESIGN.md, Trust); the service runs without it",
      "compose.yaml:9:5 services.web.cap_add: `cap_add` is never granted: replicas never get capabilities beyond Docker's default set (DESIGN.md, Trust); the service runs without them",
      "compose.yaml:11:48 services.web.deploy.restart_policy.delay: `delay` is a Compose key Skiff ignores: Docker restarts with its own backoff",
      "compose.yaml:12:39 services.web.healthcheck.start_interval: `start_interval` is a Compose key Skiff ignores: it needs Docker Engine 25 (API 1.44); Skiff supports Engine 20.10 and later",
      "compose.yaml:14:14 networks.default.driver: `driver` is a Compose key Skiff ignores: the app network is a bridge network",
    ],
  },
  {
    name: "x-skiff in a place Skiff does not read it: a warning",
    yaml: `
      services:
        web:
          image: app
          deploy:
            x-skiff: { port: 3000 }
    `,
    services: { web: { skiff: { domains: [] } } },
    warnings: [
      "compose.yaml:5:7 services.web.deploy.x-skiff: x-skiff is read only at the top level and directly under a service; it is ignored here",
    ],
  },
  {
    name: "empty deploy: and x-skiff: keys are allowed, as in Compose",
    yaml: `
      services:
        web:
          image: app
          deploy:
          x-skiff:
      x-skiff:
    `,
    services: { web: { replicas: 1, skiff: { domains: [] } } },
    spec: { tests: [] },
  },
  {
    name: "two services with ports and no domains: no warning, the plan gives each an address",
    yaml: `
      services:
        web:
          build: .
          x-skiff: { port: 3000 }
        admin:
          build: .
          x-skiff: { port: 4000 }
    `,
    services: { web: { skiff: { port: 3000, domains: [] } } },
  },

  // -------------------------------------------------------------- invalid
  {
    name: "empty file",
    yaml: "",
    errors: [`compose.yaml:1:1 the file is empty; describe the app's services, ${EXAMPLE}`],
  },
  {
    name: "a file of comments only is empty too",
    yaml: "# nothing here yet\n",
    errors: [`compose.yaml:1:1 the file is empty; describe the app's services, ${EXAMPLE}`],
  },
  {
    name: "a file that is not a mapping",
    yaml: `
      - web
      - worker
    `,
    errors: [
      `compose.yaml:1:1 the file must be a mapping with a services: key (got a list), ${EXAMPLE}`,
    ],
  },
  {
    name: "no services key",
    yaml: `
      volumes:
        data: {}
    `,
    errors: [`compose.yaml:1:1 services: is required: describe the app's services, ${EXAMPLE}`],
  },
  {
    name: "services present but empty, or not a mapping",
    yaml: `
      services: {}
    `,
    errors: [`compose.yaml:1:1 services: must define at least one service, ${EXAMPLE}`],
  },
  {
    name: "services is a list",
    yaml: `
      services:
        - web
    `,
    errors: [
      "compose.yaml:2:3 services: must be a mapping of service names to services (got a list)",
    ],
  },
  {
    name: "YAML syntax error is located",
    yaml: `
      services:
        web:
          image: app
          deploy: {replicas: 2}}
    `,
    errors: ['compose.yaml:4:26 invalid YAML: Unexpected flow-map-end token in YAML stream: "}"'],
  },
  {
    name: "tabs in indentation are a YAML error",
    yaml: "services:\n  web:\n    image: app\n\tbuild: .\n",
    errors: ["compose.yaml:4:1 invalid YAML: Tabs are not allowed as indentation"],
  },
  {
    name: "an alias without an anchor",
    yaml: `
      services:
        web:
          image: app
          environment: *common
    `,
    errors: ["compose.yaml:4:18 invalid YAML: alias *common has no anchor &common before it"],
  },
  {
    name: "duplicate key is a YAML error",
    yaml: `
      services:
        web:
          image: app
          image: other
    `,
    errors: ["compose.yaml:4:5 invalid YAML: Map keys must be unique"],
  },
  {
    name: "a typo of a Compose key: did you mean",
    yaml: `
      services:
        web:
          imgae: app
          enviroment: { A: 1 }
          deploy:
            replica: 2
    `,
    errors: [
      "compose.yaml:2:3 services.web: needs build: (a directory with a Dockerfile) or image: (an image to run)",
      "compose.yaml:3:5 services.web.imgae: unknown key `imgae`; did you mean `image`?",
      "compose.yaml:4:5 services.web.enviroment: unknown key `enviroment`; did you mean `environment`?",
      "compose.yaml:6:7 services.web.deploy.replica: unknown key `replica`; did you mean `replicas`?",
    ],
  },
  {
    name: "an unknown key with no close match lists the valid keys",
    yaml: `
      services:
        web:
          image: app
          deploy:
            strategy: canary
    `,
    errors: [
      "compose.yaml:5:7 services.web.deploy.strategy: unknown key `strategy`; valid keys here: replicas, restart_policy, resources, update_config (keys starting with x- are ignored)",
    ],
  },
  {
    name: "unknown top-level key and missing services at once",
    yaml: `
      servises:
        web:
          image: app
    `,
    errors: [
      "compose.yaml:1:1 servises: unknown key `servises`; did you mean `services`?",
      `compose.yaml:1:1 services: is required: describe the app's services, ${EXAMPLE}`,
    ],
  },
  {
    name: "unknown keys inside x-skiff: did you mean",
    yaml: `
      services:
        web:
          image: app
          x-skiff:
            port: 3000
            domian: [shop.example.com]
            health: { paht: /healthz }
      x-skiff:
        tests: []
    `,
    errors: [
      "compose.yaml:6:7 services.web.x-skiff.domian: unknown key `domian`; did you mean `domains`?",
      "compose.yaml:7:17 services.web.x-skiff.health.paht: unknown key `paht`; did you mean `path`?",
      "compose.yaml:9:3 x-skiff.tests: unknown key `tests`; did you mean `test`?",
    ],
  },
  {
    name: "replicas must be a whole number",
    yaml: `
      services:
        web:
          image: app
          deploy:
            replicas: two
        worker:
          image: app
          deploy: { replicas: -1 }
        batch:
          image: app
          deploy:
            replicas:
    `,
    errors: [
      'compose.yaml:5:17 services.web.deploy.replicas: must be a whole number ≥ 0 (got "two")',
      "compose.yaml:8:25 services.worker.deploy.replicas: must be a whole number ≥ 0 (got -1)",
      "compose.yaml:12:7 services.batch.deploy.replicas: must be a whole number ≥ 0 (got an empty value)",
    ],
  },
  {
    name: "wrong shapes: one error per value, all at once",
    yaml: `
      services:
        web:
          build: [web]
          environment: "A=1"
          labels: 5
          expose: [http]
          user: [root]
          depends_on: db
          volumes: data:/data
    `,
    errors: [
      "compose.yaml:3:12 services.web.build: must be a build context path, or a mapping with context, dockerfile, target, args (got a list)",
      'compose.yaml:4:18 services.web.environment: must be a list of KEY=VALUE strings or a mapping of KEY: value (got "A=1")',
      "compose.yaml:5:13 services.web.labels: must be a list of KEY=VALUE strings or a mapping of KEY: value (got 5)",
      'compose.yaml:6:14 services.web.expose[0]: must be a port like 3000, 3000/udp or a range like 8000-8002 (got "http")',
      "compose.yaml:7:11 services.web.user: must be a string (got a list)",
      'compose.yaml:8:17 services.web.depends_on: must be a list of service names or a mapping of name: {condition} (got "db")',
      'compose.yaml:9:14 services.web.volumes: must be a list of volume mounts (got "data:/data")',
    ],
  },
  {
    name: "a service with an invalid value still has its depends_on names checked",
    yaml: `
      services:
        web:
          image: app
          depends_on: [nope, web]
          stop_grace_period: forever
        api:
          image: api
          depends_on: { wbe: { condition: service_started } }
          deploy: { replicas: two }
    `,
    errors: [
      'compose.yaml:4:18 services.web.depends_on[0]: "nope" is not a service in this file (services: web, api)',
      "compose.yaml:4:24 services.web.depends_on[1]: a service cannot depend on itself",
      'compose.yaml:5:24 services.web.stop_grace_period: must be a duration like 10s, 1m30s or 500ms (got "forever")',
      'compose.yaml:8:19 services.api.depends_on.wbe: "wbe" is not a service in this file (services: web, api); did you mean "web"?',
      'compose.yaml:9:25 services.api.deploy.replicas: must be a whole number ≥ 0 (got "two")',
    ],
  },
  {
    name: "sections given as something other than a mapping",
    yaml: `
      services:
        web:
          image: app
          deploy: 5
          healthcheck: "curl -f http://localhost/"
          x-skiff: [3000]
          depends_on: { db: service_healthy }
        db:
          image: postgres
        worker: nginx
    `,
    errors: [
      "compose.yaml:4:13 services.web.deploy: must be a mapping (got 5)",
      'compose.yaml:5:18 services.web.healthcheck: must be a mapping (got "curl -f http://localhost/")',
      "compose.yaml:6:14 services.web.x-skiff: must be a mapping (got a list)",
      'compose.yaml:7:23 services.web.depends_on.db: must be a mapping (got "service_healthy")',
      'compose.yaml:10:11 services.worker: must be a mapping (got "nginx")',
    ],
  },
  {
    name: "durations, sizes and CPUs",
    yaml: `
      services:
        web:
          image: app
          stop_grace_period: 10
          healthcheck: { interval: 1x, retries: 2.5 }
          deploy:
            resources:
              limits: { cpus: 0, memory: 1k }
          x-skiff:
            budget: { image: lots }
    `,
    errors: [
      "compose.yaml:4:24 services.web.stop_grace_period: must be a duration like 10s, 1m30s or 500ms (got 10)",
      'compose.yaml:5:30 services.web.healthcheck.interval: must be a duration like 10s, 1m30s or 500ms (got "1x")',
      "compose.yaml:5:43 services.web.healthcheck.retries: must be a whole number ≥ 0 (got 2.5)",
      "compose.yaml:8:25 services.web.deploy.resources.limits.cpus: must be a number of CPUs greater than 0, like 0.5 or 2 (got 0)",
      'compose.yaml:8:36 services.web.deploy.resources.limits.memory: must be a size of at least 6m (Docker\'s minimum), like 512m or 1g (got "1k")',
      'compose.yaml:10:24 services.web.x-skiff.budget.image: must be a size like 512m, 1g or 100MB (got "lots")',
    ],
  },
  {
    name: "binds of the repository: files, overlays of the build context, data directories",
    yaml: `
      services:
        web:
          build: ./app
          volumes:
            - ./nginx.conf:/etc/nginx/nginx.conf:ro
            - ./conf.d:/etc/nginx/conf.d:ro,z
            - ./app:/var/www/html
            - ./app/src:/var/www/html/src:cached
            - ./data:/var/lib/mysql
            - type: bind
              source: ./html
              target: /usr/share/nginx/html
              bind: { selinux: Z, create_host_path: true }
            - ./acme.json:/acme.json
        db:
          image: mariadb
          volumes: ["./data:/var/lib/mysql:rw", "data:/backup"]
      volumes:
        data: {}
    `,
    files: { "nginx.conf": "x", "acme.json": "{}", "app/Dockerfile": "FROM x" },
    directories: ["conf.d", "app/src", "html"],
    warnings: [
      "compose.yaml:7:9 services.web.volumes[2]: ./app is the build context of web, so the image already holds these files; the bind (a development overlay) is dropped",
      "compose.yaml:8:9 services.web.volumes[3]: ./app/src is inside the build context of web, so the image already holds these files; the bind (a development overlay) is dropped",
      'compose.yaml:9:9 services.web.volumes[4]: ./data is not in the repository, so it becomes the named volume "data-2", kept across releases; like any named volume it makes web stateful (one replica, replaced stop-first).',
      `compose.yaml:10:9 services.web.volumes[5]: ./html is bound writable, so it becomes the named volume "html", kept across releases; like any named volume it makes web stateful (one replica, replaced stop-first). It starts with the image's files at that path, not the repository's; mount it read-only (:ro) to give the container the repository's files instead.`,
      "compose.yaml:14:9 services.web.volumes[6]: ./acme.json is bound writable: each replica gets its own copy of the file from the commit, and what it writes there is lost with the replica. Add :ro, or keep data in a named volume",
      'compose.yaml:17:15 services.db.volumes[0]: ./data is not in the repository, so it becomes the named volume "data-2", kept across releases; like any named volume it makes db stateful (one replica, replaced stop-first).',
    ],
    services: {
      web: {
        volumes: [
          { source: "data-2", target: "/var/lib/mysql", readOnly: false },
          { source: "html", target: "/usr/share/nginx/html", readOnly: false },
        ],
        files: [
          {
            origin: "bind",
            name: "nginx.conf",
            target: "/etc/nginx/nginx.conf",
            source: { type: "tree", path: "nginx.conf", kind: "file" },
          },
          {
            origin: "bind",
            name: "conf.d",
            target: "/etc/nginx/conf.d",
            source: { type: "tree", path: "conf.d", kind: "directory" },
          },
          {
            origin: "bind",
            name: "acme.json",
            target: "/acme.json",
            source: { type: "tree", path: "acme.json", kind: "file" },
          },
        ],
        update: { order: "stop-first", failureAction: "rollback" },
      },
      db: {
        volumes: [
          { source: "data-2", target: "/var/lib/mysql", readOnly: false },
          { source: "data", target: "/backup", readOnly: false },
        ],
      },
    },
    spec: { volumes: ["data", "data-2", "html"] },
  },
  {
    name: "host paths, the Docker socket, devices and links out of the tree are refused; time zone files are not mounted",
    yaml: `
      services:
        web:
          image: app
          volumes:
            - /srv/uploads:/uploads:ro
            - ~/cache:/cache
            - /var/run/docker.sock:/var/run/docker.sock:ro
            - type: bind
              source: /run/docker.sock
              target: /docker.sock
            - /dev/dri:/dev/dri
            - /etc/localtime:/etc/localtime:ro
            - ./secrets:/secrets:ro
            - ../shared:/shared
        pipe:
          image: app
          volumes: [{ type: npipe, source: x, target: /pipe }]
    `,
    outside: ["secrets"],
    warnings: [
      "compose.yaml:12:9 services.web.volumes[5]: /etc/localtime of the host is not mounted: Skiff never mounts host files into a replica, so the container keeps its image's time zone (usually UTC); set the TZ environment variable instead (e.g. TZ: Europe/Berlin)",
    ],
    errors: [
      `compose.yaml:5:9 services.web.volumes[0]: "/srv/uploads" ${HOST_PATH} (./path:/uploads:ro), or keep data in a named volume (NAME:/uploads, declared under the top-level volumes:)`,
      `compose.yaml:6:9 services.web.volumes[1]: "~/cache" ${HOST_PATH} (./path:/cache:ro), or keep data in a named volume (NAME:/cache, declared under the top-level volumes:)`,
      "compose.yaml:7:9 services.web.volumes[2]: the Docker socket is never mounted into a replica: with it the container could start a privileged container and so become root on the host (DESIGN.md, Trust). Skiff itself deploys and routes the app's services",
      "compose.yaml:8:9 services.web.volumes[3]: the Docker socket is never mounted into a replica: with it the container could start a privileged container and so become root on the host (DESIGN.md, Trust). Skiff itself deploys and routes the app's services",
      'compose.yaml:11:9 services.web.volumes[4]: "/dev/dri" is a host device: replicas never get devices of the host (DESIGN.md, Trust), so a release runs the same on any host',
      'compose.yaml:13:9 services.web.volumes[6]: "secrets" resolves outside the repository (a symbolic link leads out of it); Skiff reads only files inside the pushed tree',
      'compose.yaml:14:9 services.web.volumes[7]: must stay inside the repository; Skiff only has the pushed commit (got "../shared")',
      "compose.yaml:17:23 services.pipe.volumes[0].type: type npipe cannot be mounted into a release: use volume (a named volume), bind (files of the repository) or tmpfs",
    ],
  },
  {
    name: "anonymous volumes are ephemeral; tmpfs in both forms; SELinux and nocopy modes",
    yaml: `
      services:
        web:
          build: .
          volumes:
            - /app/node_modules
            - { type: volume, target: /cache }
            - { type: tmpfs, target: /tmp, tmpfs: { size: 64m, mode: 1777 } }
            - "cache:/data:nocopy,Z"
            - type: volume
              source: cache
              target: /more
              read_only: true
              volume: { nocopy: true }
          tmpfs: [/run, "/var/cache:size=1m"]
      volumes:
        cache: {}
    `,
    warnings: [
      "compose.yaml:5:9 services.web.volumes[0]: anonymous volume /app/node_modules is ephemeral: each replica gets a fresh, empty one, removed with it, so nothing written there outlives the replica. Name it (e.g. data:/app/node_modules, declared under the top-level volumes:) to keep its data",
      "compose.yaml:6:9 services.web.volumes[1]: anonymous volume /cache is ephemeral: each replica gets a fresh, empty one, removed with it, so nothing written there outlives the replica. Name it (e.g. data:/cache, declared under the top-level volumes:) to keep its data",
    ],
    services: {
      web: {
        ephemeralVolumes: ["/app/node_modules", "/cache"],
        tmpfs: { "/tmp": "size=67108864,mode=1777", "/run": "", "/var/cache": "size=1m" },
        volumes: [
          { source: "cache", target: "/data", readOnly: false, noCopy: true },
          { source: "cache", target: "/more", readOnly: true, noCopy: true },
        ],
      },
    },
  },
  {
    name: "badly written volumes",
    yaml: `
      services:
        db:
          image: postgres
          volumes:
            - pgdata:/var/lib/postgresql/data
            - logs:relative
            - "cache:/cache:q"
            - { type: volume, source: "bad name", target: /x }
        web:
          image: app
          volumes: [pgdata:/data]
      volumes:
        cache: {}
    `,
    errors: [
      'compose.yaml:6:9 services.db.volumes[1]: the container path must be absolute, like /data (got "relative")',
      'compose.yaml:7:9 services.db.volumes[2]: the mode after the last : must be a comma list of ro, rw, z, Z, nocopy (got "q")',
      'compose.yaml:8:33 services.db.volumes[3].source: volume names may hold letters, digits, _ . and -, and must start with a letter or digit (got "bad name")',
      'compose.yaml:11:15 services.web.volumes[0]: volume "pgdata" is not declared; add `pgdata: {}` under the top-level volumes: key',
    ],
  },
  {
    name: "a named volume must be declared at the top level",
    yaml: `
      services:
        db:
          image: postgres
          volumes: [pgdata:/var/lib/postgresql/data]
    `,
    errors: [
      'compose.yaml:4:15 services.db.volumes[0]: volume "pgdata" is not declared; add `pgdata: {}` under the top-level volumes: key',
    ],
  },
  {
    name: "depends_on: unknown service, itself, and a cycle named in full",
    yaml: `
      services:
        web:
          image: app
          depends_on: [api, wbe]
        api:
          image: app
          depends_on: [jobs]
        jobs:
          image: app
          depends_on:
            web: { condition: service_started }
            jobs: {}
    `,
    errors: [
      "compose.yaml:4:18 services.web.depends_on[0]: dependency cycle: web → api → jobs → web; no service in it could start first. Remove one of these depends_on entries",
      'compose.yaml:4:23 services.web.depends_on[1]: "wbe" is not a service in this file (services: web, api, jobs); did you mean "web"?',
      "compose.yaml:12:7 services.jobs.depends_on.jobs: a service cannot depend on itself",
    ],
  },
  {
    name: "service_healthy needs a health check on the dependency",
    yaml: `
      services:
        web:
          image: app
          depends_on:
            db: { condition: service_healthy }
        db:
          image: postgres
    `,
    errors: [
      "compose.yaml:5:7 services.web.depends_on.db: condition service_healthy needs a health check on db: give it a healthcheck:, or x-skiff.port for an HTTP check",
    ],
  },
  {
    name: "a service needs build or image, even an empty one",
    yaml: `
      services:
        web:
          environment: { A: 1 }
        worker:
    `,
    errors: [
      "compose.yaml:2:3 services.web: needs build: (a directory with a Dockerfile) or image: (an image to run)",
      "compose.yaml:4:3 services.worker: needs build: (a directory with a Dockerfile) or image: (an image to run)",
    ],
  },
  {
    name: "service names must be DNS labels, and differ in more than case",
    yaml: `
      services:
        Web_1:
          image: app
        web_1:
          image: app
        -edge:
          image: app
        a-very-long-service-name-that-goes-on-and-on-past-the-dns-limit-x:
          image: app
    `,
    errors: [
      `compose.yaml:4:3 services.web_1: is the same name as "Web_1" but for capitals: host names on the app network and image names ignore case, so the two would be one; rename one of them`,
      `compose.yaml:6:3 services.-edge: ${DNS}; try "edge"`,
      `compose.yaml:8:3 services.a-very-long-service-name-that-goes-on-and-on-past-the-dns-limit-x: ${DNS}; try "a-very-long-service-name-that-goes-on-and-on-past-the-dns-limit"`,
    ],
  },
  {
    name: "a stateful service runs one replica, never autoscales, never starts first",
    yaml: `
      services:
        db:
          image: postgres
          volumes: [data:/data]
          deploy:
            replicas: 3
            update_config: { order: start-first }
          x-skiff:
            autoscale: { min: 1, max: 3 }
      volumes:
        data: {}
    `,
    warnings: [`compose.yaml:9:7 services.db.x-skiff.autoscale: ${AUTOSCALE}`],
    errors: [
      `compose.yaml:6:17 services.db.deploy.replicas: ${STATEFUL} (got 3)`,
      `compose.yaml:7:31 services.db.deploy.update_config.order: ${STATEFUL}; use stop-first`,
      `compose.yaml:9:7 services.db.x-skiff.autoscale: ${STATEFUL}; remove autoscale`,
    ],
  },
  {
    name: "domains and health need a port",
    yaml: `
      services:
        web:
          image: app
          x-skiff:
            domains: [shop.example.com]
            health: { path: /up }
    `,
    errors: [
      "compose.yaml:5:7 services.web.x-skiff.domains: needs x-skiff.port: the container port the edge routes these domains to",
      "compose.yaml:6:7 services.web.x-skiff.health: needs x-skiff.port: the container port the HTTP check connects to",
    ],
  },
  {
    name: "stable_for only applies to a service without a health check",
    yaml: `
      services:
        web:
          image: app
          x-skiff: { port: 3000, domains: [www.example.com], health: { stable_for: 10s } }
        api:
          image: app
          x-skiff: { port: 3000, domains: [api.example.com], health: { path: /up, stable_for: 10s } }
        db:
          image: postgres
          healthcheck: { test: pg_isready }
          x-skiff: { health: { stable_for: 10s } }
        jobs:
          image: app
          x-skiff: { health: { timeout: 1m, stable_for: soon } }
    `,
    errors: [
      "compose.yaml:4:78 services.web.x-skiff.health.stable_for: applies only to a service without a health check, and web is checked over HTTP on x-skiff.port; remove stable_for",
      "compose.yaml:7:89 services.api.x-skiff.health.stable_for: applies only to a service without a health check, and api is checked over HTTP on x-skiff.port; remove stable_for",
      "compose.yaml:11:38 services.db.x-skiff.health.stable_for: applies only to a service without a health check, and db has a healthcheck:, which decides when a new replica is healthy; remove stable_for",
      'compose.yaml:14:51 services.jobs.x-skiff.health.stable_for: must be a duration like 10s, 1m30s or 500ms (got "soon")',
    ],
  },
  {
    name: "a worker's x-skiff.health with HTTP keys needs a port, once",
    yaml: `
      services:
        jobs:
          image: app
          x-skiff: { health: { path: /up, stable_for: 10s } }
    `,
    errors: [
      "compose.yaml:4:16 services.jobs.x-skiff.health: needs x-skiff.port: the container port the HTTP check connects to",
    ],
  },
  {
    name: "autoscale: min ≤ max, and replicas between them",
    yaml: `
      services:
        web:
          image: app
          x-skiff: { autoscale: { min: 5, max: 2 } }
        api:
          image: app
          deploy: { replicas: 9 }
          x-skiff: { autoscale: { min: 2, max: 4, cpu: 101 } }
        jobs:
          image: app
          deploy: { replicas: 9 }
          x-skiff: { autoscale: { max: 4 } }
    `,
    warnings: [
      `compose.yaml:4:16 services.web.x-skiff.autoscale: ${AUTOSCALE}`,
      `compose.yaml:12:16 services.jobs.x-skiff.autoscale: ${AUTOSCALE}`,
    ],
    errors: [
      "compose.yaml:4:34 services.web.x-skiff.autoscale.min: must not be greater than max (2) (got 5)",
      "compose.yaml:8:50 services.api.x-skiff.autoscale.cpu: must be a whole number from 1 to 100 (got 101)",
      "compose.yaml:11:25 services.jobs.deploy.replicas: must be within x-skiff.autoscale min and max (1 to 4), or left out to start at min (got 9)",
    ],
  },
  {
    name: "a domain goes to one service only",
    yaml: `
      services:
        web:
          image: app
          x-skiff: { port: 3000, domains: [shop.example.com] }
        admin:
          image: app
          x-skiff: { port: 4000, domains: [SHOP.example.com, admin.example.com, admin.example.com] }
    `,
    errors: [
      "compose.yaml:7:38 services.admin.x-skiff.domains[0]: domain shop.example.com is already routed to service web (line 4); a domain can go to one service only",
      "compose.yaml:7:75 services.admin.x-skiff.domains[2]: domain admin.example.com is already routed to this service (line 7); a domain can go to one service only",
    ],
  },
  {
    name: "x-skiff values: port range and hostnames",
    yaml: `
      services:
        web:
          image: app
          x-skiff:
            port: 70000
            domains: ["https://shop.example.com", shop.example.com]
            health: { path: healthz, timeout: soon }
    `,
    errors: [
      "compose.yaml:5:13 services.web.x-skiff.port: must be a whole number from 1 to 65535 (got 70000)",
      'compose.yaml:6:17 services.web.x-skiff.domains[0]: must be a hostname like shop.example.com (no scheme, port or path) (got "https://shop.example.com")',
      'compose.yaml:7:23 services.web.x-skiff.health.path: must be a URL path starting with /, like /healthz (got "healthz")',
      'compose.yaml:7:41 services.web.x-skiff.health.timeout: must be a duration like 10s, 1m30s or 500ms (got "soon")',
    ],
  },
  {
    name: "x-skiff.test entries need both service and run",
    yaml: `
      services:
        web:
          build: .
      x-skiff:
        test:
          - { service: wbe, run: npm test }
          - { service: web }
    `,
    errors: ["compose.yaml:7:7 x-skiff.test[1].run: is required: set it to a string"],
  },
  {
    name: "x-skiff.test naming a missing service",
    yaml: `
      services:
        web:
          build: .
        api:
          build: ./api
      x-skiff:
        test:
          - { service: wbe, run: npm test }
    `,
    errors: [
      'compose.yaml:8:18 x-skiff.test[0].service: "wbe" is not a service in this file (services: web, api); did you mean "web"?',
    ],
  },
  {
    name: "interpolation errors: required variables, malformed ${ and lone $ (one error per value)",
    yaml: `
      services:
        web:
          image: "\${IMAGE:?set IMAGE to the image to run}"
          environment:
            A: \${EMPTY:?}
            B: \${BROKEN
            C: "price: $5"
            D: \${1BAD}
            E: \${VAR:x}
          deploy:
            replicas: \${N?}
    `,
    env: { EMPTY: "" },
    errors: [
      "compose.yaml:3:12 services.web.image: required variable IMAGE is not set: set IMAGE to the image to run; set it in the app's config or .env",
      "compose.yaml:5:10 services.web.environment.A: required variable EMPTY is empty; set it in the app's config or .env",
      'compose.yaml:6:10 services.web.environment.B: unterminated `${` in "${BROKEN": close it with `}`, or write `$$` for a literal `$`',
      'compose.yaml:7:10 services.web.environment.C: invalid interpolation at "$5": `$` must be followed by a variable name or `{`; write `$$` for a literal `$`',
      'compose.yaml:8:10 services.web.environment.D: invalid interpolation "${1BAD}": expected a variable name after `${`; write `$$` for a literal `$`',
      'compose.yaml:9:10 services.web.environment.E: invalid interpolation "${VAR:x}": after the variable name use `}`, `:-`, `-`, `:?`, `?`, `:+` or `+`',
      "compose.yaml:11:17 services.web.deploy.replicas: required variable N is not set; set it in the app's config or .env",
    ],
  },
  {
    name: "env_file: a missing file is an error where it is named, unless required: false",
    yaml: `
      services:
        web:
          image: app
          env_file:
            - missing.env
            - { path: also-missing.env, format: raw }
            - { path: optional.env, required: false }
    `,
    files: {},
    errors: [
      'compose.yaml:5:9 services.web.env_file[0]: env file "missing.env" not found; the path is relative to the directory of compose.yaml. Add the file to the repository, or use { path: missing.env, required: false }',
      'compose.yaml:6:17 services.web.env_file[1].path: env file "also-missing.env" not found; the path is relative to the directory of compose.yaml. Add the file to the repository, or use { path: also-missing.env, required: false }',
    ],
    warnings: [
      "compose.yaml:6:35 services.web.env_file[1].format: `format` is a Compose key Skiff ignores: env files are read in Compose's own KEY=VALUE format",
    ],
  },
  {
    name: "env_file: absolute paths and paths leaving the repository are refused",
    yaml: `
      services:
        web:
          image: app
          env_file:
            - /etc/secrets.env
            - ../other/app.env
        worker:
          image: app
          env_file: ~/.env
    `,
    errors: [
      'compose.yaml:5:9 services.web.env_file[0]: must be a path relative to the spec file, inside the repository (got "/etc/secrets.env")',
      'compose.yaml:6:9 services.web.env_file[1]: must stay inside the repository; Skiff only has the pushed commit (got "../other/app.env")',
      'compose.yaml:9:15 services.worker.env_file: must be a path relative to the spec file, inside the repository (got "~/.env")',
    ],
  },
  {
    name: "command with shell operators is refused with the list form to use",
    yaml: `
      services:
        web:
          image: app
          command: npm run migrate && npm start
          entrypoint: "echo 'unterminated"
    `,
    errors: [
      'compose.yaml:4:14 services.web.command: `&&` needs a shell, and the string form of a command runs without one (as in Compose); write it as a list: ["sh", "-c", "npm run migrate && npm start"]',
      "compose.yaml:5:17 services.web.entrypoint: unterminated ' quote in \"echo 'unterminated\"",
    ],
  },
  {
    name: "healthcheck test must start with CMD, CMD-SHELL or NONE",
    yaml: `
      services:
        web:
          image: app
          healthcheck:
            test: [curl, -f, http://localhost/]
        api:
          image: app
          healthcheck:
            test: [CMD]
    `,
    errors: [
      'compose.yaml:5:14 services.web.healthcheck.test[0]: must be CMD (run the rest as a command), CMD-SHELL (run it with /bin/sh -c) or NONE (no check) (got "curl")',
      'compose.yaml:9:13 services.api.healthcheck.test: needs a command after CMD, like ["CMD", "curl", "-f", "http://localhost/"]',
    ],
  },
  {
    name: "image references, working_dir and reserved labels",
    yaml: `
      services:
        web:
          image: "My Image"
          working_dir: app
          labels:
            skiff.release: "7"
            team: shop
    `,
    errors: [
      'compose.yaml:3:12 services.web.image: must be an image reference like registry.example.com/team/api:1.4 (lowercase name, optional :tag or @digest) (got "My Image")',
      'compose.yaml:4:18 services.web.working_dir: must be an absolute path like /app (got "app")',
      'compose.yaml:6:22 services.web.labels["skiff.release"]: labels starting with "skiff." are Skiff\'s own: it finds its containers by them (got "skiff.release")',
    ],
  },
  {
    name: "build paths stay inside the repository and the context",
    yaml: `
      services:
        web:
          build: ../shared
        api:
          build: { context: ./api, dockerfile: ../Dockerfile }
        git:
          build: https://github.com/example/app.git
    `,
    errors: [
      'compose.yaml:3:12 services.web.build: must stay inside the repository; Skiff only has the pushed commit (got "../shared")',
      'compose.yaml:5:42 services.api.build.dockerfile: must be a path inside the build context (api), because only the context is sent to the builder (got "../Dockerfile")',
      'compose.yaml:7:12 services.git.build: must be a directory in this repository; Skiff builds from the pushed commit, not from a URL (got "https://github.com/example/app.git")',
    ],
  },
  {
    name: "enum values say which are valid",
    yaml: `
      services:
        web:
          image: app
          deploy:
            update_config: { order: blue-green, failure_action: retry }
          depends_on:
            db: { condition: service_ready }
        db:
          image: postgres
    `,
    errors: [
      'compose.yaml:5:31 services.web.deploy.update_config.order: must be one of start-first, stop-first (got "blue-green")',
      'compose.yaml:5:59 services.web.deploy.update_config.failure_action: must be one of rollback, pause, continue (got "retry")',
      'compose.yaml:7:24 services.web.depends_on.db.condition: must be one of service_started, service_healthy, service_completed_successfully (got "service_ready")',
    ],
  },
  {
    name: "problems in one service do not hide rule errors in others, and warnings still come",
    yaml: `
      services:
        web:
          image: app
          logging: { driver: syslog }
          deploy: { replicas: many }
        api:
          depends_on: [nope]
    `,
    errors: [
      'compose.yaml:5:25 services.web.deploy.replicas: must be a whole number ≥ 0 (got "many")',
      "compose.yaml:6:3 services.api: needs build: (a directory with a Dockerfile) or image: (an image to run)",
      'compose.yaml:7:18 services.api.depends_on[0]: "nope" is not a service in this file (services: web, api)',
    ],
    warnings: [
      "compose.yaml:4:5 services.web.logging: `logging` is a Compose key Skiff ignores: Skiff collects container logs itself (skiff logs)",
    ],
  },
  {
    name: "a value from an alias is reported where the anchor is written",
    yaml: `
      x-deploy: &deploy
        replicas: lots
      services:
        web:
          image: app
          deploy: *deploy
    `,
    errors: [
      'compose.yaml:2:13 services.web.deploy.replicas: must be a whole number ≥ 0 (got "lots")',
    ],
  },
  {
    name: "ports: every Compose form; the first HTTP port is routed, the others say how to reach them",
    yaml: `
      services:
        web:
          image: app
          ports:
            - "5432:5432"
            - "127.0.0.1:8080:3000/tcp"
            - 9000
            - target: 9001
              published: "19001"
              protocol: tcp
              host_ip: 0.0.0.0
              mode: host
        bad:
          image: app
          ports: ["80:80:80:80", "70000", "8000-8002:9000-9001"]
    `,
    errors: [
      'compose.yaml:15:13 services.bad.ports[0]: must be a port mapping like "8080:80", "127.0.0.1:8080:80/tcp", "80" or "8000-8002:8000-8002" (got "80:80:80:80")',
      'compose.yaml:15:28 services.bad.ports[1]: must be a port mapping like "8080:80", "127.0.0.1:8080:80/tcp", "80" or "8000-8002:8000-8002" (got "70000")',
      'compose.yaml:15:37 services.bad.ports[2]: must be a port mapping like "8080:80", "127.0.0.1:8080:80/tcp", "80" or "8000-8002:8000-8002" (got "8000-8002:9000-9001")',
    ],
    warnings: [
      "compose.yaml:5:9 services.web.ports[0]: port 5432 is PostgreSQL's, not HTTP, so the edge does not route it; other services reach it as web:5432 on the app network, and nothing is published on the host",
      "compose.yaml:7:9 services.web.ports[2]: port 9000 is not routed, as the edge routes one port per service (here 3000); other services reach it as web:9000 on the app network, and nothing is published on the host; set x-skiff.port to route another",
      "compose.yaml:8:9 services.web.ports[3]: port 9001 is not routed, as the edge routes one port per service (here 3000); other services reach it as web:9001 on the app network, and nothing is published on the host; set x-skiff.port to route another",
    ],
  },
  {
    name: "ports: the routed port and the warnings for the others",
    yaml: `
      services:
        web:
          image: app
          ports: ["5432:5432", "127.0.0.1:8080:3000/tcp", 9000, { target: 9001, published: 19001 }]
    `,
    services: {
      web: {
        skiff: { port: 3000, domains: [] },
        ports: [
          { target: 5432, protocol: "tcp", published: "5432" },
          { target: 3000, protocol: "tcp", published: "8080" },
          { target: 9000, protocol: "tcp" },
          { target: 9001, protocol: "tcp", published: "19001" },
        ],
      },
    },
    warnings: [
      "compose.yaml:4:13 services.web.ports[0]: port 5432 is PostgreSQL's, not HTTP, so the edge does not route it; other services reach it as web:5432 on the app network, and nothing is published on the host",
      "compose.yaml:4:53 services.web.ports[2]: port 9000 is not routed, as the edge routes one port per service (here 3000); other services reach it as web:9000 on the app network, and nothing is published on the host; set x-skiff.port to route another",
      "compose.yaml:4:59 services.web.ports[3]: port 9001 is not routed, as the edge routes one port per service (here 3000); other services reach it as web:9001 on the app network, and nothing is published on the host; set x-skiff.port to route another",
    ],
  },
  {
    name: "a spec with nothing to route says so, and how to fix it",
    yaml: `
      services:
        db:
          image: redis
          ports: ["6379:6379"]
    `,
    expectNoRoute: true,
    warnings: [
      `compose.yaml:1:1 ${NO_ROUTE}`,
      "compose.yaml:4:13 services.db.ports[0]: port 6379 is Redis's, not HTTP, so the edge does not route it; other services reach it as db:6379 on the app network, and nothing is published on the host",
    ],
  },
  {
    name: "runtime keys: restart forms, init, stop signal, ulimits, pids, security options",
    yaml: `
      services:
        a:
          image: app
          restart: on-failure:5
          init: true
          stop_signal: SIGQUIT
          ulimits: { nofile: 1024, nproc: { soft: 10, hard: 20 } }
          pids_limit: -1
          security_opt: [no-new-privileges:true, label:disable, "apparmor=docker-custom"]
        b:
          image: app
          restart: unless-stopped
          deploy: { resources: { limits: { pids: 50 } } }
    `,
    services: {
      a: {
        restart: { policy: "on-failure", maxRetries: 5 },
        init: true,
        stopSignal: "SIGQUIT",
        ulimits: [
          { name: "nofile", soft: 1024, hard: 1024 },
          { name: "nproc", soft: 10, hard: 20 },
        ],
        noNewPrivileges: true,
        limits: {},
      },
      b: { restart: { policy: "unless-stopped" }, limits: { pids: 50 } },
    },
    warnings: [
      "compose.yaml:8:17 services.a.pids_limit: no pids limit is not granted: every replica has one, so one cannot exhaust the host's processes; Skiff's default applies. Set a number to allow more",
      "compose.yaml:9:44 services.a.security_opt[1]: \"label:disable\" is never granted: it turns off part of the container's isolation (DESIGN.md, Trust); the replica runs with Docker's default profile",
      'compose.yaml:9:59 services.a.security_opt[2]: "apparmor=docker-custom" is not applied: only no-new-privileges:true is; the replica runs with Docker\'s default seccomp and AppArmor profiles',
    ],
  },
  {
    name: "runtime keys: invalid values say what is valid",
    yaml: `
      services:
        web:
          image: app
          restart: sometimes
          ulimits: { files: 10, nofile: { soft: 20, hard: 10 } }
          network_mode: host
    `,
    errors: [
      'compose.yaml:4:14 services.web.restart: must be no, always, on-failure, on-failure:N or unless-stopped (got "sometimes")',
      'compose.yaml:5:23 services.web.ulimits.files: must be one of core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack (got "files")',
      "compose.yaml:6:19 services.web.network_mode: network_mode: host is refused: replicas never share the host's network namespace (DESIGN.md, Trust). Remove it, and publish the service's port with ports: (the edge routes it)",
    ],
  },
  {
    name: "extends: short and long form, mappings merged, lists appended, values replaced",
    yaml: `
      services:
        base:
          image: app
          environment: [LOG=info, TZ=UTC]
          ports: ["9000"]
          command: base
        web:
          extends: base
          environment: { LOG: debug }
          ports: ["3000"]
          command: web
        worker:
          extends: { service: web }
    `,
    services: {
      web: {
        image: "app",
        environment: { LOG: "debug", TZ: "UTC" },
        command: ["web"],
        ports: [
          { target: 9000, protocol: "tcp" },
          { target: 3000, protocol: "tcp" },
        ],
      },
      worker: { image: "app", command: ["web"], environment: { LOG: "debug", TZ: "UTC" } },
    },
    warnings: [
      "compose.yaml:10:13 services.web.ports[1]: port 3000 is not routed, as the edge routes one port per service (here 9000); other services reach it as web:3000 on the app network, and nothing is published on the host; set x-skiff.port to route another",
      "compose.yaml:10:13 services.worker.ports[1]: port 3000 is not routed, as the edge routes one port per service (here 9000); other services reach it as worker:3000 on the app network, and nothing is published on the host; set x-skiff.port to route another",
    ],
  },
  {
    name: "extends: an unknown service, a cycle, another file",
    yaml: `
      services:
        a:
          extends: b
          image: app
        b:
          extends: a
          image: app
        c:
          extends: bsae
          image: app
        d:
          extends: { service: x, file: other.yml }
    `,
    errors: [
      "compose.yaml:6:14 services.b.extends: extends cycle: a → b → a; a service cannot extend itself, directly or not",
      'compose.yaml:9:14 services.c.extends: "bsae" is not a service in this file (services: a, b, c, d)',
      "compose.yaml:12:34 services.d.extends.file: extends from another file is not supported: Skiff reads only compose.yaml. Copy service x into this file and extend it here, or share the settings with a YAML anchor (x-common: &common, then <<: *common)",
    ],
  },
  {
    name: "secrets and configs: undeclared, missing, outside the repository, both sources",
    yaml: `
      services:
        web:
          image: app
          secrets: [nope, key, linked]
          configs: [{ source: conf, target: app.ini }]
      secrets:
        key: { file: ./key.txt }
        linked: { file: ./link/key }
      configs:
        conf: { content: "x = 1" }
    `,
    outside: ["link"],
    errors: [
      'compose.yaml:4:15 services.web.secrets[0]: secret "nope" is not declared; add it under the top-level secrets: key, with file: or environment:',
      'compose.yaml:7:16 secrets.key.file: "key.txt" is not in the repository; the path is relative to the directory of compose.yaml. Commit the file, or use environment: with a variable set in .env',
      'compose.yaml:8:19 secrets.linked.file: "link/key" resolves outside the repository (a symbolic link leads out of it); Skiff reads only files inside the pushed tree',
    ],
  },
  {
    name: "a secret with two sources, or none",
    yaml: `
      services:
        web:
          image: app
      secrets:
        both: { file: ./a, environment: A }
        none: {}
    `,
    errors: [
      "compose.yaml:5:9 secrets.both: must have one of file, environment, not several",
      "compose.yaml:6:9 secrets.none: needs file: or environment:: where the secret's value comes from",
    ],
  },
  {
    name: "service names may use underscores; networks a service joins must be declared",
    yaml: `
      services:
        my_app:
          image: app
          networks: [front]
        db__primary:
          image: postgres
          networks: { front: { aliases: [database, DB] } }
      networks:
        front:
    `,
    services: { db__primary: { aliases: ["database", "db"] } },
  },
  {
    name: "service names may have capitals, as in Compose; they are kept as written",
    yaml: `
      services:
        Backend:
          image: app
        frontend:
          image: app
          depends_on: [Backend]
    `,
    services: { frontend: { dependsOn: [{ service: "Backend", condition: "service_started" }] } },
  },
  {
    name: "a network a service joins must be declared",
    yaml: `
      services:
        my_app:
          image: app
          networks: [front, back]
      networks:
        front:
    `,
    errors: [
      'compose.yaml:4:23 services.my_app.networks[1]: network "back" is not declared; add `back: {}` under the top-level networks: key',
    ],
  },
  {
    name: "profiles: a service with profiles is not deployed, and dependencies on it are dropped",
    yaml: `
      services:
        web:
          image: app
          depends_on: { debug: { condition: service_started } }
        debug:
          image: busybox
          profiles: [debug]
    `,
    services: { web: { dependsOn: [] } },
    warnings: [
      "compose.yaml:4:19 services.web.depends_on.debug: debug is not deployed (it has profiles), so this dependency is dropped",
      "compose.yaml:7:5 services.debug.profiles: debug is not deployed: it has profiles (debug), and like docker compose up without --profile, Skiff deploys only services without profiles. Remove profiles: to deploy it",
    ],
  },
  {
    name: "a YAML error shows the message and position, never more than a short token of the file",
    yaml: `
      - web
      key: sk_live_aVeryLongSecretTokenThatMustNotBeEchoed
    `,
    errors: [
      "compose.yaml:2:1 invalid YAML: Unexpected scalar at node end",
      'compose.yaml:2:4 invalid YAML: Unexpected map-value-ind token in YAML stream: ":"',
      'compose.yaml:2:6 invalid YAML: Unexpected scalar token in YAML stream: "sk_live_aVeryLongSecr..."',
    ],
  },
  {
    name: "top-level volumes: a mapping of valid names",
    yaml: `
      services:
        web:
          image: app
      volumes:
        "bad name": {}
        good:
          driver: local
    `,
    errors: [
      'compose.yaml:5:3 volumes["bad name"]: volume names may hold letters, digits, _ . and -, and must start with a letter or digit (got "bad name")',
    ],
    warnings: [
      "compose.yaml:7:5 volumes.good.driver: `driver` is a Compose key Skiff ignores: volumes use Docker's local driver",
    ],
  },
];

describe("parseSpec", () => {
  it("has a large table of cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases)("$name", (c) => {
    const files = c.files ?? {};
    const result = parseSpec(yaml(c.yaml), {
      fileName: "compose.yaml",
      env: c.env ?? {},
      tree: memoryTree({
        files,
        directories: c.directories ?? [],
        outside: c.outside ?? [],
      }),
    });
    const warnings = result.warnings
      .map(formatProblem)
      .filter((w) => c.expectNoRoute || !w.endsWith(NO_ROUTE));
    expect(warnings).toEqual(c.warnings ?? []);
    if (c.errors) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.errors.map(formatProblem)).toEqual(c.errors);
      return;
    }
    if (!result.ok) {
      // Show the problems, not just "expected false to be true".
      expect(result.errors.map(formatProblem)).toEqual([]);
      return;
    }
    for (const [name, expected] of Object.entries(c.services ?? {})) {
      const actual = result.spec.services[name];
      expect(actual, `service ${name}`).toBeDefined();
      const picked = Object.fromEntries(
        Object.keys(expected).map((k) => [k, actual?.[k as keyof ServiceSpec]]),
      );
      expect(picked).toEqual(expected);
    }
    for (const [key, expected] of Object.entries(c.spec ?? {})) {
      expect(result.spec[key as keyof AppSpec]).toEqual(expected);
    }
  });
});
