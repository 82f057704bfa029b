// An entity's settings, for admins: its name, icon, area, whether it is hidden, its entity id.
// Saved with Home Assistant's config/entity_registry/update; a new area is made on the way.

import { announce, field, h } from "../dom.js";

const NEW_AREA = "__new__";

/** The settings card of a registered entity; ``onRenamed(newId)`` follows a new entity id. */
export function settingsCard(ctx, entry, onRenamed) {
  const { conn } = ctx;
  const name = h("input", { id: "setting-name", type: "text", value: entry.name || "", placeholder: entry.original_name || "" });
  const icon = h("input", { id: "setting-icon", type: "text", value: entry.icon || "", placeholder: "mdi:lightbulb" });
  const entityId = h("input", { id: "setting-entity-id", type: "text", value: entry.entity_id, pattern: "[a-z0-9_]+\\.[a-z0-9_]+" });
  const hidden = h("input", { id: "setting-hidden", type: "checkbox", checked: Boolean(entry.hidden_by) });
  const area = h("select", { id: "setting-area" });
  const newArea = h("input", { id: "setting-new-area", type: "text", placeholder: "Name of the new area", hidden: true });
  const error = h("p", { class: "error", role: "alert", hidden: true });

  function fillAreas(registries, selected) {
    area.replaceChildren(
      h("option", { value: "" }, "No area"),
      ...[...registries.areas.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((a) => h("option", { value: a.area_id, selected: a.area_id === selected }, a.name)),
      h("option", { value: NEW_AREA }, "New area…"));
  }
  fillAreas(ctx.registries, entry.area_id);
  area.addEventListener("change", () => { newArea.hidden = area.value !== NEW_AREA; });

  async function save(event) {
    event.preventDefault();
    error.hidden = true;
    try {
      let areaId = area.value || null;
      if (areaId === NEW_AREA) {
        const made = await conn.command({ type: "config/area_registry/create", name: newArea.value.trim() });
        areaId = made.area_id;
      }
      const update = {
        type: "config/entity_registry/update",
        entity_id: entry.entity_id,
        name: name.value.trim() || null,
        icon: icon.value.trim() || null,
        area_id: areaId,
        hidden_by: hidden.checked ? "user" : null,
      };
      const wanted = entityId.value.trim();
      if (wanted !== entry.entity_id) update.new_entity_id = wanted;
      const { entity_entry: saved } = await conn.command(update);
      const registries = await ctx.loadRegistries(true);
      fillAreas(registries, saved.area_id);
      newArea.hidden = true;
      newArea.value = "";
      announce("Settings saved");
      if (saved.entity_id !== entry.entity_id) onRenamed(saved.entity_id);
      entry = saved;
    } catch (err) {
      error.textContent = `Not saved: ${err.message}`;
      error.hidden = false;
    }
  }

  return h("section", { class: "card", id: "entity-settings" },
    h("h2", null, "Settings"),
    h("form", { onsubmit: save },
      field("Name", name),
      field("Icon", icon),
      field("Area", area),
      newArea,
      h("div", { class: "field inline" }, hidden, h("label", { for: hidden.id }, "Hidden from the overview")),
      field("Entity id", entityId),
      error,
      h("button", { type: "submit" }, "Save")));
}
