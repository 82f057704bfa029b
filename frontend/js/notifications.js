// The header's notifications: a button with the count, and the list it opens (persistent
// notifications, streamed by persistent_notification/subscribe; Home Assistant's format).

import { attempt, fmtTime, h, mount } from "./dom.js";

/** Answers the header button and the panel it opens; subscribes on ctx.conn. */
export function notificationsArea(ctx) {
  const items = new Map();
  const count = h("span", { class: "count" }, "0");
  const list = h("section", { class: "notifications card", id: "notifications", hidden: true, "aria-label": "Notifications" });
  const button = h("button", {
    type: "button", class: "small bell", "aria-controls": "notifications", "aria-expanded": "false",
    onclick: () => {
      list.hidden = !list.hidden;
      button.setAttribute("aria-expanded", String(!list.hidden));
      if (!list.hidden) list.focus();
    },
  }, "Notifications ", count);
  list.tabIndex = -1;

  const dismiss = (id) => attempt(() => ctx.conn.callService("persistent_notification", "dismiss", { notification_id: id }));
  const dismissAll = () => attempt(() => ctx.conn.callService("persistent_notification", "dismiss_all"));

  function render() {
    count.textContent = String(items.size);
    button.classList.toggle("unread", items.size > 0);
    const newest = [...items.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    mount(list,
      h("div", { class: "page-head" },
        h("h2", null, "Notifications"),
        ctx.canControl && items.size > 1 ? h("button", { type: "button", class: "small", onclick: dismissAll }, "Dismiss all") : null),
      newest.length === 0 ? h("p", { class: "muted" }, "Nothing to report.") : null,
      h("ul", { class: "plain" }, newest.map((n) => h("li", { class: "notification", "data-id": n.notification_id },
        n.title ? h("strong", null, n.title) : null,
        h("p", { class: "message" }, n.message),
        h("small", { class: "muted" }, fmtTime(n.created_at)),
        ctx.canControl ? h("button", { type: "button", class: "small", onclick: () => dismiss(n.notification_id) }, "Dismiss") : null))));
  }

  ctx.conn.subscribe({ type: "persistent_notification/subscribe" }, (event) => {
    if (event.type === "current") items.clear();
    for (const [id, n] of Object.entries(event.notifications)) {
      if (event.type === "removed") items.delete(id);
      else items.set(id, n);
    }
    render();
  });
  render();
  return { button, list };
}
