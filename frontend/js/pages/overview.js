// The overview: every entity grouped by area, then by domain, live, with its control.

import { control } from "../controls.js";
import { ago, entityName, fmtState, h, isUnavailable, mount } from "../dom.js";

const NO_AREA = "\uffff"; // sorts last

function areaOf(entityId, registries) {
  const entry = registries.entities.get(entityId);
  if (!entry) return null;
  if (entry.area_id) return entry.area_id;
  const device = entry.device_id ? registries.devices.get(entry.device_id) : null;
  return device?.area_id || null;
}

export default async function overview(ctx, main) {
  const { store, conn } = ctx;
  const registries = await ctx.loadRegistries(true);
  const search = h("input", { type: "search", id: "filter", placeholder: "Filter by name or entity id" });
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const body = h("div", { class: "areas" });
  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, "Overview"),
      h("div", { class: "field inline" }, h("label", { for: "filter" }, "Filter"), search),
      count),
    body);

  const rows = new Map(); // entity_id → {li, stateEl, control, ago}

  function row(state) {
    const stateEl = h("span", { class: "state" });
    const changedEl = h("span", { class: "changed muted" });
    const made = ctx.canControl ? control(conn, state) : null;
    const li = h("li", { class: "entity", "data-entity-id": state.entity_id },
      h("a", { href: `#/entity/${encodeURIComponent(state.entity_id)}`, class: "name" }, entityName(state)),
      stateEl, changedEl, made ? h("span", { class: "control" }, made.el) : null);
    const item = { li, stateEl, changedEl, control: made, name: li.firstChild };
    update(item, state);
    return item;
  }

  function update(item, state) {
    const text = fmtState(state);
    if (item.stateEl.textContent !== text) item.stateEl.textContent = text;
    const unavailable = isUnavailable(state) && state.state === "unavailable";
    item.li.classList.toggle("unavailable", unavailable);
    const changed = ago(state.last_changed);
    if (item.changedEl.textContent !== changed) item.changedEl.textContent = changed;
    const name = entityName(state);
    if (item.name.textContent !== name) item.name.textContent = name;
    item.control?.update(state);
  }

  function build() {
    const needle = search.value.trim().toLowerCase();
    const groups = new Map(); // area → domain → [state]
    let shown = 0;
    for (const state of store.states.values()) {
      if (registries.entities.get(state.entity_id)?.hidden_by) continue;
      if (needle && !state.entity_id.includes(needle) && !entityName(state).toLowerCase().includes(needle)) continue;
      const area = areaOf(state.entity_id, registries) || NO_AREA;
      const domain = state.entity_id.split(".")[0];
      if (!groups.has(area)) groups.set(area, new Map());
      const domains = groups.get(area);
      if (!domains.has(domain)) domains.set(domain, []);
      domains.get(domain).push(state);
      shown++;
    }
    const areaName = (id) => (id === NO_AREA ? "No area" : registries.areas.get(id)?.name || id);
    const sections = [...groups.keys()].sort((a, b) => (a === NO_AREA) - (b === NO_AREA) || areaName(a).localeCompare(areaName(b))).map((area) => {
      const domains = groups.get(area);
      const id = `area-${area === NO_AREA ? "none" : area}`;
      return h("section", { class: "area card", "aria-labelledby": id },
        h("h2", { id }, areaName(area)),
        [...domains.keys()].sort().map((domain) => h("div", { class: "domain" },
          h("h3", null, domain.replace(/_/g, " ")),
          h("ul", { class: "entities" }, domains.get(domain)
            .sort((a, b) => entityName(a).localeCompare(entityName(b)))
            .map((state) => {
              let item = rows.get(state.entity_id);
              if (!item) { item = row(state); rows.set(state.entity_id, item); }
              return item.li;
            })))));
    });
    for (const id of rows.keys()) if (!store.states.has(id)) rows.delete(id);
    count.textContent = `${shown} entities`;
    mount(body, sections.length ? sections : h("p", { class: "muted" }, store.ready ? "No entities." : "Waiting for states…"));
  }

  build();
  let timer = 0;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(build, 150); });
  const stop = store.listen((changed, membership) => {
    if (membership) { build(); return; }
    for (const id of changed) {
      const item = rows.get(id);
      const state = store.get(id);
      if (item && state) update(item, state);
    }
  });
  // "x s ago" moves on even without changes.
  const tick = setInterval(() => {
    for (const [id, item] of rows) {
      const state = store.get(id);
      if (state) item.changedEl.textContent = ago(state.last_changed);
    }
  }, 10_000);
  return () => { stop(); clearInterval(tick); };
}
