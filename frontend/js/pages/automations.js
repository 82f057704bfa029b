// Automations: each one with when it last ran, on/off and "run now".

import { control } from "../controls.js";
import { ago, attempt, entityName, h, isUnavailable, mount } from "../dom.js";

export default function automations(ctx, main) {
  const { conn, store } = ctx;
  const body = h("tbody");
  mount(main,
    h("h1", null, "Automations"),
    h("table", { class: "automations card" },
      h("thead", null, h("tr", null, ["Automation", "Last triggered", "On", ""].map((c) => h("th", { scope: "col" }, c)))),
      body));

  function render() {
    const list = [...store.states.values()].filter((s) => s.entity_id.startsWith("automation."))
      .sort((a, b) => entityName(a).localeCompare(entityName(b)));
    if (!list.length) {
      mount(body, h("tr", null, h("td", { colspan: 4, class: "muted" }, "No automations.")));
      return;
    }
    mount(body, list.map((s) => {
      const made = ctx.canControl ? control(conn, s) : null;
      const last = s.attributes.last_triggered;
      return h("tr", { "data-entity-id": s.entity_id, class: isUnavailable(s) ? "unavailable" : "" },
        h("td", null, h("a", { href: `#/entity/${encodeURIComponent(s.entity_id)}` }, entityName(s))),
        h("td", null, last ? ago(Date.parse(last) / 1000) : "never"),
        h("td", null, made ? made.el : s.state),
        h("td", null, ctx.canControl ? h("button", {
          type: "button", class: "small", "aria-label": `Run ${entityName(s)} now`,
          onclick: () => attempt(() => conn.callService("automation", "trigger", { skip_condition: true }, { entity_id: s.entity_id }), `${entityName(s)} started`),
        }, "Run now") : null));
    }));
  }
  render();
  return store.listen((changed, membership) => {
    if (membership || [...changed].some((id) => id.startsWith("automation."))) render();
  });
}
