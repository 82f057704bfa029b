// The Appliances page: tiles by area (quick toggle, eco mode, power now, energy and cost today)
// and the control log (who asked, what became of it, how long confirmation took).
// Served by the appliance integration through the edgewise_panels hook; render(element, api).

const LOG_LIMIT = 50;
const STYLE = `
.appliance-area .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: .75rem; }
.appliance-area { margin-bottom: 1rem; }
.appliance-tile { margin: 0; }
.appliance-tile h3 { margin: 0 0 .25rem; }
.appliance-tile p { margin: .2rem 0; }
.appliance-tile .toggle { margin: .4rem .6rem 0 0; }
table.control-log tr.result-error td { color: var(--bad); }
`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function appliances(store) {
  const found = [];
  for (const [id, state] of store.states) if (id.startsWith("appliance.")) found.push(state);
  return found.sort((a, b) => (a.attributes.friendly_name || a.entity_id).localeCompare(b.attributes.friendly_name || b.entity_id));
}

function byArea(states) {
  const areas = new Map();
  for (const state of states) {
    const area = state.attributes.area || "Unassigned";
    if (!areas.has(area)) areas.set(area, []);
    areas.get(area).push(state);
  }
  return [...areas.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function fmt(value, digits, unit) {
  return typeof value === "number" ? `${value.toFixed(digits)} ${unit}` : "–";
}

export default function render(element, api) {
  const { conn, store, user } = api;
  const who = (e) => e.user_id === null ? "" : ` · ${e.user_id === user?.id ? `${user.name} (you)` : e.user_id}`;
  const status = el("p", { class: "error", role: "alert" });
  const tiles = el("div", { class: "appliance-areas" });
  const logBody = el("tbody");
  const filter = el("select", { "aria-label": "Source" },
    el("option", { value: "" }, "every source"),
    ...["user", "automation", "schedule", "autopilot", "assistant", "system"].map((s) => el("option", { value: s }, s)));
  element.append(
    el("style", {}, STYLE),
    status,
    tiles,
    el("section", { class: "card" },
      el("h2", {}, "Control log ", filter),
      el("table", { class: "control-log" },
        el("thead", {}, el("tr", {}, ...["When", "Appliance", "Action", "Who asked", "Before", "Result", "Confirmed in", "Error"].map((t) => el("th", {}, t)))),
        logBody)),
  );

  async function act(domain, service, data, entityId) {
    status.textContent = "";
    try {
      await conn.callService(domain, service, data, { entity_id: entityId });
    } catch (err) {
      status.textContent = `${entityId}: ${err.message || err}`;
    }
    refreshLog();
  }

  function tile(state) {
    const a = state.attributes;
    const on = ["on", "running"].includes(state.state);
    return el("article", { class: "card appliance-tile", "data-entity": state.entity_id },
      el("h3", {}, a.friendly_name || state.entity_id),
      el("p", { class: "muted" }, `${state.state} · ${a.tier} · ${a.source}`),
      a.problem ? el("p", { class: "error" }, a.problem) : null,
      el("p", {}, `Power ${fmt(a.power, 0, "W")}`),
      el("p", {}, `Today ${fmt(a.energy_today, 2, "kWh")} · ${fmt(a.cost_today, 2, a.currency || "")}`),
      el("button", { type: "button", class: "toggle", "aria-pressed": on ? "true" : "false", onclick: () => act("appliance", on ? "turn_off" : "turn_on", {}, state.entity_id) }, on ? "Turn off" : "Turn on"),
      el("label", {},
        el("input", { type: "checkbox", class: "eco", checked: a.eco_mode, onchange: (e) => act("appliance", "set_eco_mode", { eco_mode: e.target.checked }, state.entity_id) }),
        " eco mode"),
    );
  }

  function drawTiles() {
    const groups = byArea(appliances(store));
    tiles.replaceChildren(
      ...(groups.length ? groups : [["", []]]).map(([area, states]) =>
        el("section", { class: "appliance-area" }, el("h2", {}, area || "No appliances configured"), el("div", { class: "tiles" }, ...states.map(tile)))),
    );
  }

  let asked = 0;
  async function refreshLog() {
    const message = { type: "appliance/control_log", limit: LOG_LIMIT };
    if (filter.value) message.source = filter.value;
    const mine = ++asked;
    try {
      const { entries } = await conn.command(message);
      if (mine !== asked) return; // a newer query was sent meanwhile: its answer wins
      logBody.replaceChildren(...entries.map((e) => el("tr", { class: `result-${e.result}` },
        el("td", {}, new Date(e.time).toLocaleString()),
        el("td", {}, e.appliance),
        el("td", {}, e.action),
        el("td", {}, e.source + (e.source_detail ? ` (${e.source_detail})` : "") + who(e)),
        el("td", {}, e.state_before),
        el("td", {}, e.result),
        el("td", {}, e.confirmation_ms === null ? "–" : `${e.confirmation_ms.toFixed(1)} ms`),
        el("td", { class: "error" }, e.error || ""))));
    } catch (err) {
      status.textContent = `Control log: ${err.message || err}`;
    }
  }

  // Tuya devices (when the tuya integration runs): the list for everyone; discovery and "add"
  // for admins, who give the local key of each device they add.
  const tuyaSection = el("section", { class: "card tuya-devices", hidden: true });
  element.append(tuyaSection);
  const isAdmin = user?.role === "admin";

  async function refreshTuya() {
    let devices;
    try {
      ({ devices } = await conn.command({ type: "tuya/devices" }));
    } catch {
      tuyaSection.hidden = true; // Tuya is not configured
      return;
    }
    tuyaSection.hidden = false;
    const rows = devices.map((d) => el("tr", { "data-device": d.device_id },
      el("td", {}, d.name), el("td", {}, d.device_id), el("td", {}, `${d.host}:${d.port}`),
      el("td", {}, d.version ?? "detecting"), el("td", {}, d.source),
      el("td", {}, d.key_rejected ? "local key rejected" : d.available ? "connected" : (d.last_error || "connecting"))));
    tuyaSection.replaceChildren(
      el("h2", {}, "Tuya devices"),
      el("table", { class: "tuya-list" },
        el("thead", {}, el("tr", {}, ...["Name", "Device id", "Address", "Protocol", "From", "Status"].map((t) => el("th", {}, t)))),
        el("tbody", {}, ...rows)),
      isAdmin ? el("button", { type: "button", onclick: discover }, "Discover devices on the LAN") : null,
      found,
    );
  }

  const found = el("div", { class: "tuya-found" });
  async function discover() {
    found.replaceChildren(el("p", { class: "muted" }, "Listening for Tuya devices…"));
    try {
      const { response } = await conn.command({ type: "call_service", domain: "tuya", service: "discover", service_data: { duration: 6 }, return_response: true });
      const fresh = response.devices.filter((d) => !d.configured);
      found.replaceChildren(
        el("p", { class: "muted" }, `${response.devices.length} device(s) heard, ${fresh.length} not configured yet.`),
        ...fresh.map(addForm));
    } catch (err) {
      found.replaceChildren(el("p", { class: "error" }, `Discovery failed: ${err.message || err}`));
    }
  }

  function addForm(d) {
    const name = el("input", { type: "text", "aria-label": `Name of ${d.device_id}`, value: d.device_id });
    const key = el("input", { type: "password", "aria-label": `Local key of ${d.device_id}`, autocomplete: "off", maxlength: 16 });
    const message = el("span", { class: "error" });
    const add = async (event) => {
      event.preventDefault();
      message.textContent = "";
      try {
        await conn.command({ type: "tuya/devices/add", device_id: d.device_id, host: d.ip, local_key: key.value, name: name.value, ...(d.version ? { version: d.version } : {}) });
        form.remove();
        refreshTuya();
      } catch (err) {
        message.textContent = err.message || String(err);
      }
    };
    const form = el("form", { class: "tuya-add", "data-device": d.device_id, onsubmit: add },
      `${d.device_id} at ${d.ip} (protocol ${d.version ?? "?"}) `, name, " ", key, " ",
      el("button", { type: "submit" }, "Add"), " ", message);
    return form;
  }

  filter.addEventListener("change", refreshLog);
  refreshTuya();
  drawTiles();
  refreshLog();
  const stopListening = store.listen((changed, membership) => {
    if (membership || [...changed].some((id) => id.startsWith("appliance."))) drawTiles();
  });
  return () => stopListening();
}
