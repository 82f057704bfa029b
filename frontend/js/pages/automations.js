// Automations: the list (last triggered, on/off, run now), the YAML editor with errors at their
// line, and the trace viewer of the last runs.  #/automations, #/automations/edit/<id>,
// #/automations/new, #/automations/trace/<id>

import { control } from "../controls.js";
import { ago, attempt, entityName, field, fmtTime, h, mount } from "../dom.js";
import { actionForm } from "./action_form.js";
import { backtestSection } from "./backtest.js";
import { renderTrace } from "./trace_view.js";

const NEW_AUTOMATION = `alias: New automation
description: ""
triggers:
  - trigger: state
    entity_id: binary_sensor.example
    to: "on"
conditions: []
actions:
  - action: switch.turn_on
    target:
      entity_id: switch.example
mode: single
`;

export default async function automations(ctx, main, params) {
  const [view, id] = params;
  if (view === "edit" || view === "new") return editor(ctx, main, view === "new" ? null : id);
  if (view === "trace") return traces(ctx, main, id);
  return list(ctx, main);
}

async function list(ctx, main) {
  const { conn, store } = ctx;
  const body = h("tbody");
  const configs = await conn.command({ type: "edgewise/automation/list" }).catch(() => []);
  mount(main,
    h("div", { class: "page-head" }, h("h1", null, "Automations"),
      ctx.isAdmin ? h("a", { href: "#/automations/new", class: "button primary" }, "New automation") : null),
    h("div", { class: "card" }, h("table", { class: "automations" },
      h("thead", null, h("tr", null, ["Automation", "Last triggered", "On", ""].map((c) => h("th", { scope: "col" }, c)))),
      body)));

  function render() {
    const byEntity = new Map(configs.filter((c) => c.entity_id).map((c) => [c.entity_id, c]));
    const states = [...store.states.values()].filter((s) => s.entity_id.startsWith("automation."));
    const rows = states.map((s) => ({ state: s, config: byEntity.get(s.entity_id) || (s.attributes.id ? { id: s.attributes.id } : null) }));
    // Entries of automations.yaml that failed to load have no entity: show them with their error.
    for (const c of configs) if (!c.entity_id) rows.push({ state: null, config: c });
    rows.sort((a, b) => (a.state ? entityName(a.state) : a.config.alias).localeCompare(b.state ? entityName(b.state) : b.config.alias));
    if (!rows.length) {
      mount(body, h("tr", null, h("td", { colspan: 4, class: "muted" }, "No automations yet.")));
      return;
    }
    mount(body, rows.map(({ state: s, config }) => {
      const itemId = config?.id;
      const name = s ? entityName(s) : config.alias;
      const made = s && ctx.canControl ? control(conn, s) : null;
      const last = s?.attributes.last_triggered;
      return h("tr", { "data-automation": itemId || s.entity_id },
        h("td", null, s ? h("a", { href: `#/entity/${encodeURIComponent(s.entity_id)}` }, name) : name,
          config?.error ? h("p", { class: "error" }, config.error) : null),
        h("td", null, s ? (last ? ago(Date.parse(last) / 1000) : "never") : "not loaded"),
        h("td", null, made ? made.el : s ? s.state : ""),
        h("td", { class: "actions" },
          s && ctx.canControl ? h("button", {
            type: "button", class: "small", "aria-label": `Run ${name} now`,
            onclick: () => attempt(() => conn.callService("automation", "trigger", { skip_condition: true }, { entity_id: s.entity_id }), `${name} started`),
          }, "Run now") : null,
          itemId ? h("a", { href: `#/automations/trace/${encodeURIComponent(itemId)}`, "aria-label": `Traces of ${name}` }, "Traces") : null,
          itemId && ctx.isAdmin ? h("a", { href: `#/automations/edit/${encodeURIComponent(itemId)}`, "aria-label": `Edit ${name}` }, "Edit") : null));
    }));
  }
  render();
  return store.listen((changed, membership) => {
    if (membership || [...changed].some((eid) => eid.startsWith("automation."))) render();
  });
}

async function editor(ctx, main, automationId) {
  const { conn } = ctx;
  if (!ctx.isAdmin) {
    mount(main, h("p", null, h("a", { href: "#/automations" }, "← Automations")),
      h("p", { class: "muted", id: "editor-admins-only" }, "Only an administrator can create or edit automations."));
    return null;
  }
  let text = NEW_AUTOMATION;
  if (automationId) {
    const found = await attempt(() => conn.command({ type: "edgewise/automation/get", automation_id: automationId }));
    if (!found) { mount(main, h("p", { class: "error" }, `No automation ${automationId}.`)); return null; }
    text = found.yaml;
  }
  const idInput = h("input", { value: automationId || `a${Date.now()}`, disabled: Boolean(automationId), required: true });
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const area = h("textarea", { id: "yaml", class: "editor", spellcheck: "false", rows: 22, wrap: "off", "aria-describedby": "yaml-errors" });
  area.value = text;
  const errors = h("ol", { id: "yaml-errors", class: "yaml-errors", "aria-live": "polite" });
  let errorLines = new Set();

  function drawGutter() {
    const count = area.value.split("\n").length;
    mount(gutter, Array.from({ length: count }, (_, i) => {
      const n = i + 1;
      return errorLines.has(n) ? h("mark", { "data-line": n }, `${n}\n`) : `${n}\n`;
    }));
    gutter.scrollTop = area.scrollTop;
  }
  function goTo(line) {
    const lines = area.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }
  area.addEventListener("input", drawGutter);
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });

  let saved = area.value;
  const status = h("p", { id: "save-status", class: "save-status", role: "status", "aria-live": "polite" });
  const dirty = () => area.value !== saved;
  const onUnload = (event) => { if (dirty()) { event.preventDefault(); event.returnValue = ""; } };
  window.addEventListener("beforeunload", onUnload);
  ctx.leaveGuard = () => !dirty() || confirm("Leave the editor? Your changes are not saved.");
  area.addEventListener("input", () => { if (dirty()) mount(status); });

  function showErrors(list) {
    errorLines = new Set(list.filter((e) => e.line).map((e) => e.line));
    drawGutter();
    mount(errors, list.map((e) => h("li", { class: "error", "data-line": e.line ?? "" },
      e.line ? h("button", { type: "button", class: "link", onclick: () => goTo(e.line) }, `Line ${e.line}`) : null,
      e.line ? ": " : "", e.message)));
  }

  async function save(event) {
    event.preventDefault();
    const itemId = idInput.value.trim();
    const answer = await attempt(() => conn.command({
      type: "edgewise/automation/save", automation_id: itemId, yaml: area.value, create: !automationId,
    }));
    if (!answer) return;
    if (!answer.saved) {
      showErrors(answer.errors);
      mount(status);
      if (answer.field === "id") idInput.focus();
      else if (answer.errors[0]?.line) goTo(answer.errors[0].line);
      return;
    }
    saved = area.value;
    showErrors([]);
    if (!automationId) {
      // Saved once: from now on this page edits that automation (its id is fixed).
      automationId = itemId;
      idInput.disabled = true;
      history.replaceState(null, "", `#/automations/edit/${encodeURIComponent(itemId)}`);
    }
    const warnings = answer.warnings || [];
    mount(status, h("strong", { class: "ok" }, `Saved${answer.entity_id ? ` as ${answer.entity_id}` : ""}.`),
      warnings.map((w) => h("span", { class: "warning" }, ` Warning: ${w}`)));
  }

  async function remove() {
    if (!confirm(`Delete the automation ${automationId}?`)) return;
    if (await attempt(() => conn.command({ type: "edgewise/automation/delete", automation_id: automationId }), "Automation deleted") !== undefined) {
      saved = area.value;
      location.hash = "#/automations";
    }
  }

  // The form beside the YAML writes into it: the text changes as if typed (gutter, unsaved state).
  const setYaml = (value) => { area.value = value; area.dispatchEvent(new Event("input")); };
  const insert = (value) => {
    const { selectionStart: at, selectionEnd: end } = area;
    area.setRangeText(value, at, end, "end");
    area.dispatchEvent(new Event("input"));
    area.focus();
  };
  mount(main,
    h("p", null, h("a", { href: "#/automations" }, "← Automations")),
    h("h1", null, automationId ? `Edit ${automationName(ctx, automationId)}` : "New automation"),
    h("div", { class: "editor-layout" }, h("form", { class: "card", onsubmit: save },
      field("Id", idInput),
      h("label", { for: "yaml" }, "Configuration (YAML)"),
      h("div", { class: "code" }, gutter, area),
      errors,
      status,
      h("div", { class: "buttons" },
        h("button", { type: "submit", class: "primary" }, "Save"),
        automationId ? h("button", { type: "button", class: "danger", onclick: remove }, "Delete") : null)),
      actionForm(ctx, { getYaml: () => area.value, setYaml, insert })),
    ctx.canControl ? backtestSection(ctx, { getYaml: () => area.value, automationId, renderTrace: (box, trace) => renderTrace(box, trace, ctx.store) }) : null);
  drawGutter();
  return () => { window.removeEventListener("beforeunload", onUnload); ctx.leaveGuard = null; };
}

/** An automation's name for people: its entity's friendly name (its alias), else its id. */
function automationName(ctx, itemId) {
  for (const state of ctx.store.states.values()) {
    if (state.entity_id.startsWith("automation.") && state.attributes.id === itemId) return entityName(state);
  }
  return itemId;
}

async function traces(ctx, main, itemId) {
  const { conn } = ctx;
  const runs = (await conn.command({ type: "trace/list", domain: "automation", item_id: itemId })).slice().reverse();
  const detail = h("div", { class: "trace", "aria-live": "polite" });
  const picker = h("select", { id: "run" }, runs.map((r) => h("option", { value: r.run_id },
    `${fmtTime(r.timestamp.start)} — ${r.script_execution || r.state}${r.error ? " (error)" : ""}`)));
  mount(main,
    h("p", null, h("a", { href: "#/automations" }, "← Automations")),
    h("h1", null, `Traces of ${automationName(ctx, itemId)}`),
    runs.length ? h("div", { class: "card" }, field("Run", picker)) : h("p", { class: "muted" }, "No runs yet."),
    detail);

  async function show(runId) {
    const trace = await attempt(() => conn.command({ type: "trace/get", domain: "automation", item_id: itemId, run_id: runId }));
    if (trace) renderTrace(detail, trace, ctx.store);
  }
  picker.addEventListener("change", () => show(picker.value));
  if (runs.length) show(runs[0].run_id);
  return null;
}
