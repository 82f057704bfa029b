// The control that fits each domain: toggles, sliders with min/max, selects, buttons, setpoints.
// Each control is {el, update(state)}: updates keep the element (and the user's focus).

import { attempt, entityName, h, isUnavailable } from "./dom.js";

const TOGGLE_DOMAINS = new Set(["switch", "input_boolean", "light", "fan", "automation", "siren", "humidifier"]);
const NUMBER_DOMAINS = new Set(["number", "input_number"]);
const SELECT_DOMAINS = new Set(["select", "input_select"]);
const PRESS_DOMAINS = { button: "press", input_button: "press", scene: "turn_on", script: "turn_on" };

/** Whether the domain has a control at all. */
export function hasControl(entityId) {
  const domain = entityId.split(".")[0];
  return TOGGLE_DOMAINS.has(domain) || NUMBER_DOMAINS.has(domain) || SELECT_DOMAINS.has(domain)
    || domain in PRESS_DOMAINS || domain === "climate" || domain === "cover" || domain === "lock"
    || domain === "input_text" || domain === "text";
}

function call(conn, state, service, data = {}) {
  const domain = state.entity_id.split(".")[0];
  return attempt(() => conn.callService(domain, service, data, { entity_id: state.entity_id }));
}

function toggle(conn, state) {
  const label = `${entityName(state)}: on or off`;
  const input = h("input", {
    type: "checkbox", role: "switch", class: "toggle", "aria-label": label,
    onchange: async () => {
      const current = input.checked;
      await call(conn, latest, current ? "turn_on" : "turn_off");
    },
  });
  let latest = state;
  return {
    el: input,
    update(s) {
      latest = s;
      input.checked = s.state === "on";
      input.disabled = isUnavailable(s);
    },
  };
}

function numberInput(conn, state, { service, key, attrs }) {
  const { min = 0, max = 100, step = 1 } = attrs(state);
  const slider = state.attributes.mode !== "box" && Number.isFinite(min) && Number.isFinite(max);
  const input = h("input", {
    type: slider ? "range" : "number", min, max, step, class: slider ? "slider" : "number",
    "aria-label": `${entityName(state)} (${min} to ${max})`,
  });
  const output = h("output", { class: "value", "aria-hidden": "true" });
  let latest = state;
  input.addEventListener("input", () => { output.textContent = input.value; });
  input.addEventListener("change", () => call(conn, latest, service, { [key]: Number(input.value) }));
  const el = h("span", { class: "number-control" }, input, slider ? output : null);
  return {
    el,
    update(s) {
      latest = s;
      const value = key === "temperature" ? s.attributes.temperature : s.state;
      if (document.activeElement !== input && value !== undefined && value !== null) {
        input.value = value;
        output.textContent = value;
      }
      input.disabled = isUnavailable(s);
    },
  };
}

function select(conn, state) {
  const input = h("select", { "aria-label": entityName(state) });
  let latest = state;
  let options = "";
  input.addEventListener("change", () => call(conn, latest, "select_option", { option: input.value }));
  return {
    el: input,
    update(s) {
      latest = s;
      const list = s.attributes.options || [];
      if (list.join("\u0000") !== options) {
        options = list.join("\u0000");
        input.replaceChildren(...list.map((o) => h("option", { value: o }, o)));
      }
      if (document.activeElement !== input) input.value = s.state;
      input.disabled = isUnavailable(s);
    },
  };
}

function buttons(conn, state, actions) {
  const els = actions.map(([label, service]) => h("button", {
    type: "button", class: "small", "aria-label": `${label} ${entityName(state)}`,
    onclick: () => call(conn, latest, service),
  }, label));
  let latest = state;
  return {
    el: h("span", { class: "buttons" }, els),
    update(s) {
      latest = s;
      for (const b of els) b.disabled = isUnavailable(s) && s.state !== "unknown";
    },
  };
}

function textInput(conn, state) {
  const input = h("input", { type: "text", "aria-label": entityName(state), maxlength: state.attributes.max ?? 255 });
  let latest = state;
  input.addEventListener("change", () => call(conn, latest, "set_value", { value: input.value }));
  return {
    el: input,
    update(s) {
      latest = s;
      if (document.activeElement !== input) input.value = s.state;
      input.disabled = isUnavailable(s);
    },
  };
}

/** The control for `state`, or null when its domain has none. */
export function control(conn, state) {
  const domain = state.entity_id.split(".")[0];
  let made = null;
  if (TOGGLE_DOMAINS.has(domain)) made = toggle(conn, state);
  else if (NUMBER_DOMAINS.has(domain)) {
    made = numberInput(conn, state, {
      service: "set_value", key: "value",
      attrs: (s) => ({ min: s.attributes.min, max: s.attributes.max, step: s.attributes.step ?? 1 }),
    });
  } else if (domain === "climate") {
    made = numberInput(conn, { ...state, attributes: { ...state.attributes, mode: "box" } }, {
      service: "set_temperature", key: "temperature",
      attrs: (s) => ({
        min: s.attributes.min_temp ?? 7, max: s.attributes.max_temp ?? 35,
        step: s.attributes.target_temp_step ?? 0.5,
      }),
    });
  } else if (SELECT_DOMAINS.has(domain)) made = select(conn, state);
  else if (domain in PRESS_DOMAINS) made = buttons(conn, state, [[domain === "scene" ? "Activate" : domain === "script" ? "Run" : "Press", PRESS_DOMAINS[domain]]]);
  else if (domain === "cover") made = buttons(conn, state, [["Open", "open_cover"], ["Stop", "stop_cover"], ["Close", "close_cover"]]);
  else if (domain === "lock") made = buttons(conn, state, [["Lock", "lock"], ["Unlock", "unlock"]]);
  else if (domain === "input_text" || domain === "text") made = textInput(conn, state);
  if (made) made.update(state);
  return made;
}
