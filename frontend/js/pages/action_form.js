// The automation editor's form, beside its YAML: pick a service, fill its fields (inputs built
// from the service's description: numbers with their range, choices, switches, entities), and the
// action is written into the YAML; an action of the YAML can be loaded back into the form.
// The YAML is read and written by the server (edgewise/automation/actions).

import { announce, attempt, entityName, h, mount } from "../dom.js";
import { describeStep } from "./trace_view.js";

let counter = 0;
const uid = (name) => `af-${name}-${++counter}`;

/** The entities a target or entity selector allows (all when it names no domain). */
function entitiesFor(store, selector) {
  const specs = [selector].flat().filter(Boolean);
  const domains = new Set(specs.flatMap((s) => [s.domain].flat()).filter(Boolean));
  return [...store.states.values()]
    .filter((s) => !domains.size || domains.has(s.entity_id.split(".")[0]))
    .sort((a, b) => entityName(a).localeCompare(entityName(b)));
}

function entitySelect(store, selector, id, multiple) {
  return h("select", { id, multiple, size: multiple ? 5 : null },
    multiple ? null : h("option", { value: "" }, "—"),
    entitiesFor(store, selector).map((s) => h("option", { value: s.entity_id }, `${entityName(s)} (${s.entity_id})`)));
}

/** One field's input, and how to read and set its value. */
function fieldInput(store, key, spec) {
  const id = uid(key);
  const selector = spec.selector || { text: {} };
  const [kind, options = {}] = Object.entries(selector)[0] || ["text", {}];
  let input;
  let read;
  let write;
  if (kind === "boolean") {
    input = h("input", { id, type: "checkbox" });
    read = () => (input.indeterminate ? undefined : input.checked);
    write = (v) => { input.indeterminate = v === undefined; input.checked = Boolean(v); };
    input.indeterminate = true;
  } else if (kind === "number") {
    input = h("input", { id, type: "number", class: "number", min: options.min ?? null, max: options.max ?? null, step: options.step ?? "any" });
    read = () => (input.value === "" ? undefined : Number(input.value));
    write = (v) => { input.value = v ?? ""; };
  } else if (kind === "select") {
    input = h("select", { id }, h("option", { value: "" }, "—"), (options.options || []).map((o) => {
      const value = typeof o === "object" ? o.value : o;
      return h("option", { value }, typeof o === "object" ? o.label : o);
    }));
    read = () => input.value || undefined;
    write = (v) => { input.value = v ?? ""; };
  } else if (kind === "entity") {
    input = entitySelect(store, options.filter || options, id, Boolean(options.multiple));
    read = () => {
      const chosen = [...input.selectedOptions].map((o) => o.value).filter(Boolean);
      return chosen.length ? (options.multiple ? chosen : chosen[0]) : undefined;
    };
    write = (v) => { const ids = [v ?? []].flat(); for (const o of input.options) o.selected = ids.includes(o.value); };
  } else {
    // Text, templates and anything else: a text box; JSON typed in it is read as data.
    input = h("input", { id, type: "text", placeholder: spec.example !== undefined ? String(typeof spec.example === "object" ? JSON.stringify(spec.example) : spec.example) : null });
    read = () => {
      const text = input.value.trim();
      if (!text) return undefined;
      if (/^[[{]/.test(text)) { try { return JSON.parse(text); } catch { return text; } }
      return text;
    };
    write = (v) => { input.value = v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v); };
  }
  const help = spec.description ? h("small", { id: `${id}-help`, class: "muted" }, spec.description) : null;
  if (help) input.setAttribute("aria-describedby", help.id);
  if (spec.required) input.setAttribute("aria-required", "true");
  const label = h("label", { for: id }, spec.name || key, spec.required ? " (required)" : "");
  const el = kind === "boolean"
    ? h("div", { class: "field check", "data-field": key }, h("div", { class: "field inline" }, input, label), help)
    : h("div", { class: "field", "data-field": key }, label, input, help);
  return { el, read, write };
}

function ids(value) {
  if (!value) return [];
  if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(value)) return value.flatMap(ids);
  return [];
}

/**
 * The form. `getYaml()` answers the editor's text; `setYaml(text)` replaces it; `insert(text)`
 * puts text at the editor's cursor.
 */
export function actionForm(ctx, { getYaml, setYaml, insert }) {
  const { conn, store } = ctx;
  const services = h("select", { id: "af-service" }, h("option", { value: "" }, "Choose a service…"));
  const description = h("p", { class: "muted", id: "af-description" });
  const body = h("div", { class: "af-fields" });
  const existing = h("select", { id: "af-existing" }, h("option", { value: "" }, "A new action"));
  const write = h("button", { type: "submit", class: "primary", disabled: true }, "Add to the YAML");
  let described = {};
  let current = null; // { target: {read, write} | null, fields: Map(key -> {read, write}) }
  let actions = [];

  const entityPick = h("input", { id: "af-entity", type: "text", list: "af-entity-list", autocomplete: "off", placeholder: "Name or entity id" });
  const entityList = h("datalist", { id: "af-entity-list" }, [...store.states.values()]
    .sort((a, b) => entityName(a).localeCompare(entityName(b)))
    .map((s) => h("option", { value: s.entity_id }, entityName(s))));

  conn.command({ type: "get_services" }).then((all) => {
    described = all;
    for (const domain of Object.keys(all).sort()) {
      services.append(h("optgroup", { label: domain }, Object.keys(all[domain]).sort().map((name) => {
        const about = all[domain][name];
        return h("option", { value: `${domain}.${name}` }, about.name && about.name !== name ? `${domain}.${name} — ${about.name}` : `${domain}.${name}`);
      })));
    }
  }).catch((err) => announce(`Services could not be read: ${err.message}`, "error"));

  function showService(name) {
    const [domain, service] = name.split(".");
    const about = described[domain]?.[service];
    write.disabled = !about;
    if (!about) { mount(body); mount(description); current = null; return; }
    description.textContent = about.description || "";
    const fields = new Map();
    let target = null;
    const parts = [];
    if (about.target) {
      const id = uid("target");
      const select = entitySelect(store, about.target.entity, id, true);
      select.setAttribute("aria-describedby", `${id}-help`);
      target = {
        read: () => [...select.selectedOptions].map((o) => o.value),
        write: (v) => { const chosen = ids(v); for (const o of select.options) o.selected = chosen.includes(o.value); },
      };
      parts.push(h("div", { class: "field", "data-field": "target" }, h("label", { for: id }, "Targets"), select,
        h("small", { id: `${id}-help`, class: "muted" }, "The entities it acts on (Ctrl or Shift for several).")));
    }
    for (const [key, spec] of Object.entries(about.fields || {})) {
      if (key === "entity_id" && about.target) continue;
      const made = fieldInput(store, key, spec);
      fields.set(key, made);
      parts.push(made.el);
    }
    mount(body, parts.length ? parts : h("p", { class: "muted" }, "This service takes no fields."));
    current = { target, fields };
  }
  services.addEventListener("change", () => showService(services.value));

  function build() {
    const action = { action: services.value };
    const chosen = current.target?.read() || [];
    if (chosen.length) action.target = { entity_id: chosen.length === 1 ? chosen[0] : chosen };
    const data = {};
    for (const [key, made] of current.fields) {
      const value = made.read();
      if (value !== undefined) data[key] = value;
    }
    if (Object.keys(data).length) action.data = data;
    return action;
  }

  async function readActions() {
    const answer = await attempt(() => conn.command({ type: "edgewise/automation/actions", yaml: getYaml() }));
    if (!answer) return;
    if (answer.error) { announce(`The YAML cannot be read: ${answer.error}`, "error"); return; }
    actions = answer.actions;
    const names = (id) => entityName(store.get(id)) || id;
    mount(existing, h("option", { value: "" }, "A new action"),
      actions.map((a, i) => h("option", { value: String(i) }, `${i + 1}. ${describeStep(a, names)}`)));
    announce(`${actions.length} action${actions.length === 1 ? "" : "s"} read from the YAML`);
  }

  existing.addEventListener("change", () => {
    const action = actions[Number(existing.value)];
    write.textContent = existing.value === "" ? "Add to the YAML" : `Replace action ${Number(existing.value) + 1}`;
    if (!action) return;
    const name = action.action || action.service || "";
    services.value = name;
    showService(name);
    if (!current) { announce(`${name || "This action"} is not a service call: edit it in the YAML`, "error"); return; }
    const data = action.data || {};
    current.target?.write(action.target?.entity_id ?? action.entity_id ?? data.entity_id);
    for (const [key, made] of current.fields) made.write(data[key]);
  });

  async function submit(event) {
    event.preventDefault();
    if (!current) return;
    const index = existing.value === "" ? null : Number(existing.value);
    const answer = await attempt(() => conn.command({ type: "edgewise/automation/actions", yaml: getYaml(), action: build(), index }));
    if (!answer) return;
    if (answer.error) { announce(`The YAML cannot be read: ${answer.error}`, "error"); return; }
    setYaml(answer.yaml);
    announce(index === null ? "Action added to the YAML" : `Action ${index + 1} replaced in the YAML`);
    await readActions();
  }

  return h("section", { class: "card action-form", "aria-labelledby": "af-title" },
    h("h2", { id: "af-title" }, "Add or change an action"),
    h("div", { class: "field" }, h("label", { for: "af-existing" }, "Action"),
      h("div", { class: "inline-row" }, existing, h("button", { type: "button", class: "small", onclick: readActions }, "Read from the YAML"))),
    h("form", { onsubmit: submit },
      h("div", { class: "field" }, h("label", { for: "af-service" }, "Service"), services),
      description, body, write),
    h("h3", null, "Entity picker"),
    h("div", { class: "field" }, h("label", { for: "af-entity" }, "Entity"),
      h("div", { class: "inline-row" }, entityPick, entityList,
        h("button", {
          type: "button", class: "small",
          onclick: () => { if (entityPick.value.trim()) insert(entityPick.value.trim()); },
        }, "Insert at the cursor"))));
}
