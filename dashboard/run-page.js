// A run: its stages with durations, its build steps, and its log, followed
// live through the run's event stream while it runs.

import { ApiError, appPath, getJson, request, serverSentEvents } from "./api.js";
import { ago, badge, el, notice, table } from "./dom.js";
import { duration, formatRunEvent, isFinished, shortCommit } from "./format.js";

function lineClass(line) {
  if (line.startsWith("=====>")) return "line final";
  if (line.startsWith("----->")) return "line stage";
  return "line";
}

/** The run page; `name` and `number` come from the URL. */
export async function runPage(ctx, name, number) {
  const path = `${appPath(name)}/runs/${number}`;
  ctx.crumbs([
    { text: name, href: `#/apps/${encodeURIComponent(name)}` },
    { text: `Run ${number}` },
  ]);
  document.title = `Run ${number} of ${name} · Skiff`;

  const status = el("span", { id: "run-status" });
  const facts = el("div");
  const problems = el("div");
  const stages = el("div");
  const steps = el("div");
  const following = el("p", { class: "following", role: "status" });
  const log = el("pre", { id: "run-log", class: "log", tabindex: "0", "aria-label": "Run log" });
  ctx.main.append(
    el("h1", {}, `Run ${number} of ${name} `, status),
    facts,
    problems,
    el("section", { id: "stages" }, el("h2", {}, "Stages"), stages),
    el("section", { id: "log" }, el("h2", {}, "Log"), following, log),
    el("section", { id: "steps" }, el("h2", {}, "Build steps"), steps),
  );

  const render = ({ run, steps: buildSteps }) => {
    status.replaceChildren(badge(run.status));
    const started = run.startedAt ? Date.parse(run.startedAt) : undefined;
    const ended = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
    facts.replaceChildren(
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "Trigger"),
        el("dd", {}, run.trigger),
        run.commit
          ? [el("dt", {}, "Commit"), el("dd", {}, el("code", {}, shortCommit(run.commit)))]
          : [],
        el("dt", {}, "Created"),
        el("dd", {}, ago(run.createdAt)),
        started !== undefined
          ? [el("dt", {}, "Took"), el("dd", {}, duration(ended - started))]
          : [],
        run.releaseNumber !== undefined
          ? [el("dt", {}, "Release"), el("dd", {}, `r${run.releaseNumber}`)]
          : [],
        run.reason ? [el("dt", {}, "Reason"), el("dd", { class: "reason" }, run.reason)] : [],
      ),
    );
    stages.replaceChildren(
      table(
        ["Stage", "Status", "Duration"],
        run.stages.map((s) => ({
          attributes: { "data-stage": s.name },
          cells: [
            s.name,
            badge(s.status),
            s.durationMs !== undefined ? duration(s.durationMs) : "",
          ],
        })),
        { label: "Stages" },
      ),
    );
    steps.replaceChildren(
      table(
        ["Service", "Step", "Result"],
        buildSteps.map((s) => [
          s.service,
          el("code", {}, s.name),
          s.error
            ? badge("failed", s.error)
            : s.cached
              ? badge("skipped", "CACHED")
              : duration(s.durationMs),
        ]),
        { label: "Build steps", empty: "No build steps (nothing was built in this run)." },
      ),
    );
  };

  let reloadTimer;
  const reload = async () => {
    try {
      render(await getJson(path, ctx.signal));
      problems.replaceChildren();
    } catch (error) {
      ctx.fail(error, problems);
    }
  };
  /** Stage and run events change the table: read the run again, at most every 300 ms. */
  const reloadSoon = () => {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = undefined;
      if (!ctx.signal.aborted) reload();
    }, 300);
  };
  ctx.signal.addEventListener("abort", () => clearTimeout(reloadTimer));

  const appendLine = (line) => {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    log.append(el("span", { class: lineClass(line) }, line), "\n");
    if (atBottom) log.scrollTop = log.scrollHeight;
  };

  await reload();
  if (ctx.signal.aborted) return;
  // The stream replays the run from its start, then follows it live until it ends.
  following.replaceChildren(badge("running", "following live"), " new lines appear as they happen");
  let finalStatus;
  try {
    for await (const event of serverSentEvents(`${path}/events`, ctx.signal)) {
      const line = formatRunEvent(event);
      if (line !== undefined) appendLine(line);
      if (event.type !== "log") reloadSoon();
      if (event.type === "run" && isFinished(event.status)) finalStatus = event.status;
    }
    if (finalStatus) following.replaceChildren("The run ended: ", badge(finalStatus));
    else following.replaceChildren("The run's stream ended.");
  } catch (error) {
    if (ctx.signal.aborted || error?.name === "AbortError") return;
    if (error instanceof ApiError && error.status === 401) return ctx.fail(error);
    // The stream broke (the server restarted): show the log as written so far.
    following.replaceChildren(
      notice(`Stopped following the run: ${error.message}`, "Reload the page to follow it again."),
    );
    try {
      const text = await (await request(`${path}/log`, { signal: ctx.signal })).text();
      log.replaceChildren();
      for (const line of text.split("\n")) if (line) appendLine(line);
    } catch (fallback) {
      ctx.fail(fallback, problems);
    }
  }
  if (!ctx.signal.aborted) await reload();
}
