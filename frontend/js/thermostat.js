// The thermostat card of a climate entity: current and target temperature with their unit, −/+
// by the entity's step, the mode and what it does now. A value the server refuses (out of range,
// a service error) snaps back to the entity's target, with the reason shown in the card.

import { announce, entityName, h, isUnavailable } from "./dom.js";

const ACTIONS = { heating: "Heating", cooling: "Cooling", idle: "Idle", off: "Off", drying: "Drying", fan: "Fan", preheating: "Preheating", defrosting: "Defrosting" };
const MODES = { off: "Off", heat: "Heat", cool: "Cool", auto: "Auto", heat_cool: "Heat/cool", dry: "Dry", fan_only: "Fan only" };
const DELAY = 700; // ms after the last −/+ before the new target is sent

function decimals(step) {
  const text = String(step);
  return text.includes(".") ? text.split(".")[1].length : 0;
}

/**
 * The card for `state` (a climate entity): {el, update(state)}. `unit` is the site's
 * temperature unit; controls only when `canControl`.
 */
export function thermostatCard(conn, state, { unit = "°C", canControl = false, link = true } = {}) {
  const id = state.entity_id;
  const name = h(link ? "a" : "span", link ? { href: `#/entity/${encodeURIComponent(id)}`, class: "name" } : { class: "name" });
  const current = h("span", { class: "current" });
  const action = h("span", { class: "badge action" });
  // A viewer sees the target as text: nothing in the card looks like a control.
  const input = canControl ? h("input", {
    type: "number", class: "target", inputmode: "decimal", "aria-label": `Target temperature of ${entityName(state)} (${unit})`,
  }) : h("span", { class: "target" });
  const minus = h("button", { type: "button", class: "step", "aria-label": `Lower the target of ${entityName(state)}` }, "−");
  const plus = h("button", { type: "button", class: "step", "aria-label": `Raise the target of ${entityName(state)}` }, "+");
  const mode = h("select", { class: "mode", "aria-label": `Mode of ${entityName(state)}` });
  const modeText = h("span", { class: "mode-text" });
  const reason = h("p", { class: "reason error", role: "alert", hidden: true });
  const el = h("div", { class: link ? "thermostat" : "thermostat card", "data-entity-id": id, role: "group", "aria-label": `Thermostat ${entityName(state)}` },
    h("div", { class: "thermo-head" }, link ? name : h("span", { class: "muted" }, "Thermostat"), action),
    h("div", { class: "thermo-body" },
      h("div", { class: "thermo-now" }, h("span", { class: "muted small" }, "Now"), current),
      h("div", { class: "thermo-target" },
        h("span", { class: "muted small" }, "Target"),
        h("div", { class: "stepper" }, canControl ? minus : null, input, h("span", { class: "unit" }, unit), canControl ? plus : null)),
      h("div", { class: "thermo-mode" }, h("span", { class: "muted small" }, "Mode"), canControl ? mode : modeText)),
    reason);

  let latest = state;
  let pending = null; // the target typed or stepped, not yet confirmed
  let timer = 0;
  let modes = "";
  const step = () => Number(latest.attributes.target_temp_step) || 0.5;
  const fmt = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(decimals(step())));

  function showTarget(value) {
    const text = value === null || value === undefined ? "" : fmt(value);
    if (!canControl) input.textContent = text || "—";
    else if (document.activeElement !== input || pending === null) input.value = text;
  }

  function snapBack(tried, message) {
    pending = null;
    input.value = fmt(latest.attributes.temperature);
    const what = Number.isFinite(tried) ? `${fmt(tried)} ${unit}` : `"${tried}"`;
    reason.textContent = `${what} was not set: ${message}`;
    reason.hidden = false;
    announce(reason.textContent, "error");
  }

  async function send(value) {
    try {
      await conn.callService("climate", "set_temperature", { temperature: value }, { entity_id: id });
      reason.hidden = true;
    } catch (err) {
      snapBack(value, err.message || String(err));
      return;
    }
    pending = null;
  }

  function nudge(direction) {
    const base = pending ?? Number(latest.attributes.temperature);
    if (!Number.isFinite(base)) return;
    const s = step();
    const next = Math.round((base + direction * s) / s) * s;
    const min = Number(latest.attributes.min_temp);
    const max = Number(latest.attributes.max_temp);
    if ((Number.isFinite(min) && next < min) || (Number.isFinite(max) && next > max)) {
      snapBack(next, `the target must be from ${fmt(min)} to ${fmt(max)} ${unit}`);
      return;
    }
    pending = next;
    input.value = fmt(next);
    clearTimeout(timer);
    timer = setTimeout(() => send(pending), DELAY);
  }

  minus.addEventListener("click", () => nudge(-1));
  plus.addEventListener("click", () => nudge(1));
  input.addEventListener("change", () => {
    const value = Number.parseFloat(input.value);
    if (!Number.isFinite(value)) { snapBack(input.value, "not a number"); return; }
    clearTimeout(timer);
    pending = value;
    send(value);
  });
  mode.addEventListener("change", async () => {
    try {
      await conn.callService("climate", "set_hvac_mode", { hvac_mode: mode.value }, { entity_id: id });
      reason.hidden = true;
    } catch (err) {
      mode.value = latest.state;
      reason.textContent = `Mode not changed: ${err.message}`;
      reason.hidden = false;
    }
  });

  function update(s) {
    latest = s;
    if (link) name.textContent = entityName(s);
    const cur = s.attributes.current_temperature;
    current.textContent = cur === null || cur === undefined ? "—" : `${Number(cur).toFixed(1)} ${unit}`;
    const act = s.attributes.hvac_action || (s.state === "off" ? "off" : null);
    action.textContent = isUnavailable(s) ? "Unavailable" : ACTIONS[act] || (act ? String(act) : MODES[s.state] || s.state);
    action.className = `badge action ${act || ""}`;
    if (pending === null) showTarget(s.attributes.temperature);
    if (canControl) {
      input.step = String(step());
      if (s.attributes.min_temp !== undefined) input.min = String(s.attributes.min_temp);
      if (s.attributes.max_temp !== undefined) input.max = String(s.attributes.max_temp);
    }
    const list = s.attributes.hvac_modes || [];
    if (list.join(",") !== modes) {
      modes = list.join(",");
      mode.replaceChildren(...list.map((m) => h("option", { value: m }, MODES[m] || m)));
    }
    if (document.activeElement !== mode) mode.value = s.state;
    modeText.textContent = MODES[s.state] || s.state;
    if (canControl) for (const c of [input, minus, plus, mode]) c.disabled = isUnavailable(s);
  }

  update(state);
  return { el, update };
}
