// Skiff's dashboard: sign in with the admin token, then the apps, an app's
// page and a run's log, all read from the API. Views live behind the URL's
// hash (#/, #/apps/NAME, #/apps/NAME/runs/N), so the server serves one page.

import { ApiError, appPath, forgetToken, getJson, storedToken, storeToken } from "./api.js";
import { appPage } from "./app-page.js";
import { ago, badge, el, externalLink, notice, table } from "./dom.js";
import { shortCommit } from "./format.js";
import { runPage } from "./run-page.js";

/** How often a visible view reads the API again. */
const REFRESH_MS = 4000;

const main = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const signOutButton = document.getElementById("sign-out");

/** The view on screen; aborting it stops its timers, requests and streams. */
let current;

function stopCurrentView() {
  current?.abort();
  current = undefined;
}

/** The sign-in form; `message` says why it is shown again (a refused token). */
function showSignIn(message, hint) {
  stopCurrentView();
  signOutButton.hidden = true;
  crumbs.replaceChildren();
  document.title = "Sign in · Skiff";
  const input = el("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const button = el("button", { type: "submit" }, "Sign in");
  const problem = el("div", {}, message ? notice(message, hint) : undefined);
  const form = el(
    "form",
    { class: "signin-form" },
    el("label", { for: "token" }, "Admin token"),
    input,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    storeToken(token);
    try {
      // Any data call proves the token; the apps list is the first view anyway.
      await getJson("/apps");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        forgetToken();
        showSignIn(
          `That token was not accepted: ${error.message}.`,
          "Copy it again from ~/.skiff/admin-token on the Skiff host (cat ~/.skiff/admin-token), without spaces around it.",
        );
        return;
      }
      // Another failure (the server is down) is not the token's fault: the view says what it is.
    }
    location.hash = "#/";
    route();
  });
  main.replaceChildren(
    el(
      "section",
      { class: "signin" },
      el("h1", {}, "Sign in"),
      el(
        "p",
        {},
        "The dashboard uses Skiff's API with the admin token, like the CLI. The token is in ",
        el("code", {}, "~/.skiff/admin-token"),
        " on the Skiff host (",
        el("code", {}, "$SKIFF_HOME/admin-token"),
        " if you set SKIFF_HOME): run ",
        el("code", {}, "cat ~/.skiff/admin-token"),
        " there and paste it here.",
      ),
      problem,
      form,
      el(
        "p",
        { class: "muted" },
        "This browser keeps the token in its local storage until you sign out.",
      ),
    ),
  );
  input.focus();
}

signOutButton.addEventListener("click", () => {
  forgetToken();
  location.hash = "#/";
  showSignIn();
});

/**
 * What every view gets: where to draw, a signal that ends with the view,
 * the breadcrumbs, a refresh loop, and `fail` for errors (a 401 asks for
 * the token again; anything else becomes a notice in `into`).
 */
function viewContext(controller) {
  const { signal } = controller;
  return {
    main,
    signal,
    crumbs(items) {
      crumbs.replaceChildren(
        el("a", { href: "#/" }, "Apps"),
        ...items.flatMap((item) => [
          el("span", { class: "sep", "aria-hidden": "true" }, "›"),
          item.href ? el("a", { href: item.href }, item.text) : el("span", {}, item.text),
        ]),
      );
    },
    every(fn) {
      let timer;
      const tick = async () => {
        if (!document.hidden) await fn();
        if (!signal.aborted) timer = setTimeout(tick, REFRESH_MS);
      };
      timer = setTimeout(tick, REFRESH_MS);
      // Back to a hidden tab: show what changed at once.
      const onVisible = () => {
        if (!document.hidden) fn();
      };
      document.addEventListener("visibilitychange", onVisible);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        document.removeEventListener("visibilitychange", onVisible);
      });
    },
    fail(error, into) {
      if (signal.aborted || error?.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 401) {
        forgetToken();
        showSignIn(
          `The server refused the token: ${error.message}.`,
          "It may have been replaced. Paste the current one from ~/.skiff/admin-token on the Skiff host.",
        );
        return;
      }
      into?.replaceChildren(notice(error.message ?? String(error), error.hint));
    },
  };
}

/** The apps with their address and what is live. */
async function appsList(ctx) {
  ctx.crumbs([]);
  document.title = "Apps · Skiff";
  const body = el("div", { id: "apps" });
  ctx.main.append(el("h1", {}, "Apps"), body);

  const liveOf = async (app) => {
    try {
      const answer = await getJson(`${appPath(app.name)}/releases?limit=20`, ctx.signal);
      return {
        number: answer.live,
        release: answer.releases.find((r) => r.number === answer.live),
      };
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      return { error };
    }
  };
  const liveCell = (live) => {
    if (live.error) return el("span", { class: "muted" }, "unknown");
    if (live.number === undefined) return el("span", { class: "muted" }, "nothing live yet");
    return el(
      "span",
      {},
      badge("live", `r${live.number}`),
      live.release?.commit ? [" ", el("code", {}, shortCommit(live.release.commit))] : "",
      live.release ? [" · ", ago(live.release.createdAt)] : "",
    );
  };

  const load = async () => {
    try {
      const { apps } = await getJson("/apps", ctx.signal);
      const lives = await Promise.all(apps.map(liveOf));
      if (ctx.signal.aborted) return;
      body.replaceChildren(
        table(
          ["App", "URL", "Live", "Containers", "Created"],
          apps.map((app, i) => ({
            attributes: { "data-app": app.name },
            cells: [
              el("a", { href: `#/apps/${encodeURIComponent(app.name)}` }, app.name),
              externalLink(app.url),
              liveCell(lives[i]),
              app.containers ?? el("span", { class: "muted", title: "Docker did not answer" }, "?"),
              ago(app.createdAt),
            ],
          })),
          {
            label: "Apps",
            empty:
              "No apps yet. Create one with ./bin/skiff apps:create NAME, then git push to the remote it prints.",
          },
        ),
      );
    } catch (error) {
      ctx.fail(error, body);
    }
  };
  await load();
  ctx.every(load);
}

/** `#/apps/NAME/runs/3` → ["apps", "NAME", "runs", "3"]; undefined for a malformed escape. */
function hashParts() {
  try {
    return (location.hash.replace(/^#/, "") || "/")
      .split("/")
      .filter(Boolean)
      .map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

function route() {
  if (!storedToken()) {
    showSignIn();
    return;
  }
  stopCurrentView();
  const controller = new AbortController();
  current = controller;
  signOutButton.hidden = false;
  main.replaceChildren();
  const ctx = viewContext(controller);
  const parts = hashParts() ?? [];
  if (parts[0] === "apps" && parts.length === 2) return appPage(ctx, parts[1]);
  if (parts[0] === "apps" && parts[2] === "runs" && parts.length === 4 && /^\d+$/.test(parts[3]))
    return runPage(ctx, parts[1], Number(parts[3]));
  return appsList(ctx);
}

window.addEventListener("hashchange", route);
route();
