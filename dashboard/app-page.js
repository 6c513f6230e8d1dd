// An app's page: its processes, releases (with rollback) and recent runs,
// read again every few seconds while the tab is visible.

import { ApiError, appPath, getJson, postJson, serverSentEvents } from "./api.js";
import { ago, badge, el, externalLink, notice, table } from "./dom.js";
import { duration, formatRunEvent, shortCommit, span } from "./format.js";

function runHref(name, number) {
  return `#/apps/${encodeURIComponent(name)}/runs/${number}`;
}

function processTable(replicas) {
  return table(
    ["Service", "Replica", "Release", "State", "Health", "Port", "Uptime", "Restarts"],
    replicas.map((p) => ({
      attributes: { "data-service": p.service },
      cells: [
        p.service,
        p.replica,
        `r${p.release}`,
        // A running container is good news, unlike a run that is still running.
        badge(p.state, p.state, p.state === "running" ? "good" : undefined),
        p.health
          ? badge(p.health)
          : el("span", { class: "muted", title: "no Docker healthcheck" }, "—"),
        p.hostPort ?? el("span", { class: "muted" }, "none"),
        p.uptime !== undefined ? span(p.uptime) : el("span", { class: "muted" }, "—"),
        p.restarts > 0 ? badge("restarting", String(p.restarts)) : "0",
      ],
    })),
    { label: "Processes", empty: "No replicas run. Push to the app to deploy it." },
  );
}

function stageList(stages) {
  return el(
    "span",
    { class: "stages" },
    stages.map((stage) =>
      badge(
        stage.status,
        `${stage.name}${stage.durationMs !== undefined ? ` ${duration(stage.durationMs)}` : ""}`,
      ),
    ),
  );
}

function runTable(name, runs) {
  return table(
    ["Run", "Status", "Trigger", "Commit", "Stages", "Release", "Reason", "Created"],
    runs.map((run) => ({
      attributes: { "data-run": run.number },
      cells: [
        el("a", { href: runHref(name, run.number) }, `Run ${run.number}`),
        badge(run.status),
        run.trigger,
        el("code", {}, shortCommit(run.commit)),
        stageList(run.stages ?? []),
        run.releaseNumber !== undefined ? `r${run.releaseNumber}` : "",
        run.reason ?? "",
        ago(run.createdAt),
      ],
    })),
    { label: "Runs", empty: "No runs yet. Push to the app: git push REMOTE main." },
  );
}

/** The app's page; `name` is the app's name from the URL. */
export async function appPage(ctx, name) {
  const path = appPath(name);
  ctx.crumbs([{ text: name }]);
  document.title = `${name} · Skiff`;

  const summary = el("div", { class: "summary" });
  const problems = el("div");
  const rollbackPanel = el("section", { id: "rollback", class: "panel", hidden: true });
  const processes = el("div");
  const releases = el("div");
  const runs = el("div");
  ctx.main.append(
    el("h1", {}, name),
    summary,
    problems,
    rollbackPanel,
    el("section", { id: "processes" }, el("h2", {}, "Processes"), processes),
    el("section", { id: "releases" }, el("h2", {}, "Releases"), releases),
    el("section", { id: "runs" }, el("h2", {}, "Recent runs"), runs),
  );

  let rollingBack = false;
  let lastReleases;
  let generation = 0;

  const renderReleases = (answer) => {
    lastReleases = answer;
    const live = answer.live;
    releases.replaceChildren(
      table(
        ["Release", "Commit", "Status", "Origin", "Images", "Created", ""],
        answer.releases.map((r) => ({
          attributes: { "data-release": r.number, class: r.number === live ? "live-row" : "" },
          cells: [
            `r${r.number}`,
            el("code", {}, shortCommit(r.commit)),
            badge(r.number === live ? "live" : r.status),
            r.rollbackOf !== undefined ? `rollback of r${r.rollbackOf}` : r.trigger,
            r.images
              .map((i) => `${i.service} ${i.digest.replace(/^sha256:/, "").slice(0, 12)}`)
              .join(", "),
            ago(r.createdAt),
            // A rollback target served before (superseded) and is not what serves now.
            live !== undefined && r.number !== live && r.status === "superseded"
              ? el(
                  "button",
                  { type: "button", disabled: rollingBack, onclick: () => rollBack(r, live) },
                  "Roll back to this release",
                )
              : "",
          ],
        })),
        { label: "Releases", empty: "No releases yet. Push to the app to make one." },
      ),
    );
  };

  const renderSummary = (app, live) => {
    summary.replaceChildren(
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "URL"),
        el("dd", {}, externalLink(app.url)),
        el("dt", {}, "Live"),
        el(
          "dd",
          { id: "live-release" },
          live !== undefined
            ? badge("live", `r${live}`)
            : el("span", { class: "muted" }, "nothing live yet"),
        ),
        el("dt", {}, "Git remote"),
        el(
          "dd",
          {},
          el("code", {}, app.gitRemote),
          " (branch ",
          el("code", {}, app.deployBranch),
          ")",
        ),
      ),
    );
  };

  const load = async () => {
    const mine = ++generation;
    const results = await Promise.allSettled([
      getJson(path, ctx.signal),
      getJson(`${path}/releases?limit=20`, ctx.signal),
      getJson(`${path}/runs?limit=10`, ctx.signal),
      getJson(`${path}/ps`, ctx.signal),
    ]);
    // A newer load started meanwhile (a rollback's end): its answer wins.
    if (mine !== generation || ctx.signal.aborted) return;
    const refused = results.find((r) => r.status === "rejected" && r.reason?.status === 401);
    if (refused) return ctx.fail(refused.reason);
    const [info, releaseList, runList, ps] = results;
    if (info.status === "rejected") {
      ctx.fail(info.reason, problems);
      return;
    }
    problems.replaceChildren();
    const live = releaseList.status === "fulfilled" ? releaseList.value.live : undefined;
    renderSummary(info.value.app, live);
    if (ps.status === "fulfilled") processes.replaceChildren(processTable(ps.value.replicas));
    else ctx.fail(ps.reason, processes);
    if (releaseList.status === "fulfilled") renderReleases(releaseList.value);
    else ctx.fail(releaseList.reason, releases);
    if (runList.status === "fulfilled") runs.replaceChildren(runTable(name, runList.value.runs));
    else ctx.fail(runList.reason, runs);
  };

  /** Asks, starts the rollback, and follows its run to the outcome. */
  async function rollBack(target, live) {
    if (rollingBack) return;
    const commit = target.commit ? ` (commit ${shortCommit(target.commit)})` : "";
    const question = `Roll back ${name} to r${target.number}${commit}?\n\nSkiff deploys the images of r${target.number} again as a new release, with the same health checks as a push. r${live} keeps serving until the new replicas are healthy.`;
    if (!window.confirm(question)) return;
    rollingBack = true;
    if (lastReleases) renderReleases(lastReleases);

    const state = el(
      "p",
      { class: "state" },
      badge("queued", "starting"),
      " asking Skiff to roll back…",
    );
    const log = el("pre", { class: "log", "aria-label": "Rollback progress" });
    const close = el(
      "button",
      {
        type: "button",
        class: "quiet",
        hidden: true,
        onclick: () => (rollbackPanel.hidden = true),
      },
      "Dismiss",
    );
    rollbackPanel.replaceChildren(
      el("h2", {}, `Rolling back to r${target.number}`),
      state,
      log,
      close,
    );
    rollbackPanel.hidden = false;

    let answer;
    try {
      answer = await postJson(`${path}/rollback`, { release: target.number }, ctx.signal);
      const runLink = el("a", { href: runHref(name, answer.run) }, `run ${answer.run}`);
      state.replaceChildren(
        badge("running"),
        " ",
        runLink,
        `: deploying the images of r${answer.rollbackTo} again`,
      );
      let status = "running";
      for await (const event of serverSentEvents(`${path}/runs/${answer.run}/events`, ctx.signal)) {
        const line = formatRunEvent(event);
        if (line !== undefined) log.append(`${line}\n`);
        if (event.type === "run") status = event.status;
      }
      const { run } = await getJson(`${path}/runs/${answer.run}`, ctx.signal);
      status = run.status;
      if (status === "succeeded") {
        state.replaceChildren(
          notice(
            `Rolled back: r${run.releaseNumber} is live, running the images of r${target.number}.`,
            undefined,
            "good",
          ),
        );
      } else {
        state.replaceChildren(
          notice(
            `The rollback ${status}${run.reason ? `: ${run.reason}` : ""}.`,
            `The release that served before keeps serving; ${runLink.textContent} has the whole log.`,
          ),
        );
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return ctx.fail(error);
      if (ctx.signal.aborted) return;
      state.replaceChildren(
        answer
          ? notice(
              `Lost track of run ${answer.run}: ${error.message}`,
              "It goes on in Skiff; its page shows how it ends.",
            )
          : notice(`The rollback did not start: ${error.message}`, error.hint),
      );
    } finally {
      rollingBack = false;
      close.hidden = false;
      if (!ctx.signal.aborted) await load();
    }
  }

  await load();
  ctx.every(load);
}
