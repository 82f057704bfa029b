// "Test against history" in the automation editor: replays the edited automation over a period of
// recorded history on the server (WebSocket automation/backtest, with progress and cancel) and
// shows what it would have done: the summary, each action, the difference against the current
// version, what could not be reproduced, and each run's trace in the trace viewer.

import { fmtTime, h, mount } from "../dom.js";

const PERIODS = [["1", "Last 24 hours"], ["3", "Last 3 days"], ["7", "Last 7 days"], ["custom", "Custom…"]];

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Run one backtest: resolves with the report; `onProgress` gets each progress event. The
 * connection's command() only answers results, so the progress events are read through its
 * subscription table for the command's id.
 */
function runBacktest(conn, message, onProgress) {
  if (!conn.connected) return { id: null, done: Promise.reject(new Error("Not connected")) };
  let id = null;
  const done = new Promise((resolve, reject) => {
    id = conn.send(message);
    conn.subscriptions.set(id, { message, callback: (event) => onProgress(event.progress) });
    conn.pending.set(id, {
      resolve: (result) => { conn.subscriptions.delete(id); resolve(result); },
      reject: (err) => { conn.subscriptions.delete(id); reject(err); },
    });
  });
  return { id, done };
}

function targetText(target) {
  return Object.values(target || {}).flat().join(", ");
}

function signed(value, digits) {
  const text = Math.abs(value).toFixed(digits);
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}

/** The tariff's estimate of the kWh and cost the actions on appliances would have moved. */
function energySection(energy) {
  const money = (v) => `${signed(v, 2)}${energy.currency ? ` ${energy.currency}` : ""}`;
  const apps = Object.values(energy.appliances);
  return h("section", { class: "card", id: "backtest-energy" }, h("h3", null, "Energy and cost moved"),
    h("p", { class: "muted" }, `Priced with ${energy.prices}. Positive: more drawn or paid than in the recorded history; negative: less.`),
    apps.length ? [
      h("table", { id: "backtest-energy-appliances" },
        h("thead", null, h("tr", null, ["Appliance", "Actions", "kWh", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, apps.map((a) => h("tr", null,
          h("td", null, a.name), h("td", null, String(a.actions)), h("td", null, signed(a.kwh, 3)), h("td", null, money(a.cost))))),
        h("tfoot", null, h("tr", null, h("th", { scope: "row" }, "Total"), h("td", null, ""),
          h("td", { id: "backtest-energy-kwh" }, signed(energy.total.kwh, 3)), h("td", { id: "backtest-energy-cost" }, money(energy.total.cost))))),
      h("details", null, h("summary", null, "Each action"),
        h("table", { id: "backtest-energy-actions" },
          h("thead", null, h("tr", null, ["From", "Until", "Action", "Appliance", "kWh", "Cost", "Drawn from"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, energy.actions.map((a) => h("tr", null,
            h("td", null, fmtTime(a.time)), h("td", null, fmtTime(a.until)), h("td", null, `${a.service} → ${a.to}`),
            h("td", null, a.appliance), h("td", null, signed(a.kwh, 3)), h("td", null, money(a.cost)), h("td", null, a.drawn_from)))))),
    ] : null,
    h("p", { class: "muted" }, energy.method),
    energy.notes.length ? h("ul", null, energy.notes.map((n) => h("li", null, n))) : null);
}

/** The section to add under the editor; `getYaml()` reads the editor's text. */
export function backtestSection(ctx, { getYaml, automationId, renderTrace }) {
  const { conn } = ctx;
  const period = h("select", { id: "backtest-period" }, PERIODS.map(([value, text]) => h("option", { value, selected: value === "7" }, text)));
  const now = new Date();
  const startInput = h("input", { id: "backtest-start", type: "datetime-local", value: localInput(new Date(now - 7 * 86400e3)) });
  const endInput = h("input", { id: "backtest-end", type: "datetime-local", value: localInput(now) });
  const custom = h("div", { class: "fields", hidden: true },
    h("label", { for: "backtest-start" }, "From"), startInput,
    h("label", { for: "backtest-end" }, "To"), endInput);
  period.addEventListener("change", () => { custom.hidden = period.value !== "custom"; });
  const status = h("p", { id: "backtest-status", class: "muted", "aria-live": "polite" });
  const report = h("div", { id: "backtest-report" });
  const runButton = h("button", { type: "button", id: "backtest-run", class: "primary" }, "Test against history");
  const cancelButton = h("button", { type: "button", id: "backtest-cancel", hidden: true }, "Cancel");
  let running = null;

  async function run() {
    const message = { type: "automation/backtest", yaml: getYaml() };
    if (automationId) message.automation_id = automationId;
    if (period.value === "custom") {
      message.start = new Date(startInput.value).toISOString();
      message.end = new Date(endInput.value).toISOString();
    } else {
      message.days = Number(period.value);
    }
    mount(report);
    mount(status, "Replaying the recorded history…");
    runButton.disabled = true;
    cancelButton.hidden = false;
    running = runBacktest(conn, message, (progress) => {
      if (progress) mount(status, `Replaying… ${Math.round(progress.fraction * 100)} % (up to ${fmtTime(progress.time)})`);
    });
    try {
      const result = await running.done;
      mount(status, result.status === "complete" ? "Done." : `Stopped early (${result.status.replaceAll("_", " ")}): the report covers up to ${fmtTime(result.period.reached)}.`);
      show(result);
    } catch (err) {
      mount(status, h("span", { class: "error" }, err.message || String(err)));
    } finally {
      runButton.disabled = false;
      cancelButton.hidden = true;
      running = null;
    }
  }

  function cancel() {
    if (running?.id) conn.command({ type: "automation/backtest/cancel", backtest_id: running.id }).catch(() => {});
  }

  function show(result) {
    const s = result.summary;
    const traceBox = h("div", { class: "trace", id: "backtest-trace", "aria-live": "polite" });
    const honest = result.not_reproduced;
    const diff = result.difference;
    mount(report,
      h("section", { class: "card" }, h("h3", null, "What it would have done"),
        h("dl", { class: "facts", id: "backtest-summary" },
          h("dt", null, "Period"), h("dd", null, `${fmtTime(result.period.start)} – ${fmtTime(result.period.end)}`),
          h("dt", null, "Runs"), h("dd", { id: "backtest-runs" }, String(s.runs)),
          h("dt", null, "Stopped by conditions"), h("dd", null, String(s.stopped_by_conditions)),
          h("dt", null, "Actions"), h("dd", { id: "backtest-actions-count" }, String(s.actions)),
          h("dt", null, "Replayed"), h("dd", null, `${result.replayed.state_changes.toLocaleString()} state changes, ${result.replayed.events.toLocaleString()} events in ${result.replayed.seconds} s`)),
        Object.keys(s.actions_by_target).length ? h("ul", { class: "by-target" },
          Object.entries(s.actions_by_target).map(([key, count]) => h("li", null, `${key}: ${count}`))) : null),
      h("section", { class: "card" }, h("h3", null, "Actions"),
        result.actions.length ? h("table", { id: "backtest-action-table" },
          h("thead", null, h("tr", null, ["Time", "Action", "Target", "Data", "Simulated"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, result.actions.map((a) => h("tr", null,
            h("td", null, fmtTime(a.time)), h("td", null, a.service), h("td", null, targetText(a.target)),
            h("td", null, h("code", null, JSON.stringify(a.data))),
            h("td", null, a.simulated.map((c) => `${c.entity_id}: ${c.from} → ${c.to}`).join("; ")))))) :
          h("p", { class: "muted" }, "It would not have called any action.")),
      result.energy ? energySection(result.energy) : null,
      diff ? h("section", { class: "card", id: "backtest-difference" }, h("h3", null, "Against the current version"),
        diff.same ? h("p", null, "The same runs and actions as the current version.") : [
          h("p", null, `Edited: ${diff.runs.edited} runs, ${diff.actions.edited} actions; current: ${diff.runs.current} runs, ${diff.actions.current} actions.`),
          diff.only_edited.length ? [h("h4", null, "Only the edited version"), h("ul", null, diff.only_edited.map((a) => h("li", null, `${fmtTime(a.time)} ${a.service} ${targetText(a.target)}`)))] : null,
          diff.only_current.length ? [h("h4", null, "Only the current version"), h("ul", null, diff.only_current.map((a) => h("li", null, `${fmtTime(a.time)} ${a.service} ${targetText(a.target)}`)))] : null,
        ]) : null,
      h("section", { class: "card", id: "backtest-honesty" }, h("h3", null, "Not reproduced"),
        h("ul", null,
          honest.entities_without_history.length ? h("li", null, `No history in the period: ${honest.entities_without_history.join(", ")}`) : null,
          honest.triggers_not_replayed.map((t) => h("li", null, `Trigger ${t.index} (${t.trigger}): ${t.reason}`)),
          honest.notes.map((n) => h("li", null, n)),
          !honest.entities_without_history.length && !honest.triggers_not_replayed.length && !honest.notes.length ? h("li", null, "Nothing: everything it reads was recorded.") : null)),
      h("section", { class: "card" }, h("h3", null, "Runs"),
        result.runs.length ? h("ol", { id: "backtest-run-list" }, result.runs.map((r) => h("li", { "data-run": r.run_id },
          h("button", { type: "button", class: "link", onclick: () => renderTrace(traceBox, r.trace) },
            `${fmtTime(r.time)} — ${r.trigger || "trigger"} — ${r.outcome}`),
          r.actions.length ? ` (${r.actions.map((a) => a.service).join(", ")})` : null))) :
          h("p", { class: "muted" }, "No trigger fired in the period."),
        traceBox));
    if (result.runs.length) renderTrace(traceBox, result.runs[0].trace);
  }

  runButton.addEventListener("click", run);
  cancelButton.addEventListener("click", cancel);
  return h("section", { class: "card", id: "backtest" },
    h("h2", null, "Test against history"),
    h("p", { class: "muted" }, "Replays the recorded states and events through this version of the automation. Nothing is switched: actions are only recorded (and their obvious effects simulated)."),
    h("div", { class: "field" }, h("label", { for: "backtest-period" }, "Period"), period),
    custom,
    h("div", { class: "buttons" }, runButton, cancelButton),
    status, report);
}
