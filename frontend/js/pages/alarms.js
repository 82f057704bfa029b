// Alarms: the active ones (newest first, most severe first), the acknowledged ones, and the
// history of cleared ones; filtered by severity. Operators acknowledge and clear; viewers read.
// #/alarms, #/alarms/acknowledged, #/alarms/history

import { ago, attempt, fmtTime, h, mount } from "../dom.js";
import { SEVERITIES } from "../notifications.js";

const VIEWS = [
  { path: "", title: "Active" },
  { path: "acknowledged", title: "Acknowledged" },
  { path: "history", title: "History" },
];
const RANK = { critical: 0, warning: 1, info: 2 };

export default async function alarmsPage(ctx, main, params) {
  const { conn, alarms } = ctx;
  const view = VIEWS.find((v) => v.path === (params[0] || "")) || VIEWS[0];
  const registries = await ctx.loadRegistries();
  // No user: an automation, or Edgewise itself (a problem that went away).
  const who = (userId) => (userId ? registries.userNames[userId] || "a user" : "an automation or Edgewise");
  const severity = h("select", { id: "alarm-severity" },
    h("option", { value: "" }, "All severities"),
    SEVERITIES.map((s) => h("option", { value: s }, s[0].toUpperCase() + s.slice(1))));
  const list = h("div", { class: "alarm-list", "aria-live": "polite" });
  let history = null;

  mount(main,
    h("div", { class: "page-head" }, h("h1", null, "Alarms"),
      h("div", { class: "field inline" }, h("label", { for: "alarm-severity" }, "Severity "), severity)),
    h("nav", { class: "tabs", "aria-label": "Alarm lists" }, VIEWS.map((v) => h("a", {
      href: v.path ? `#/alarms/${v.path}` : "#/alarms",
      "aria-current": v === view ? "page" : null,
    }, v.title, h("span", { class: "tab-count", "data-view": v.path || "active" })))),
    list);
  severity.addEventListener("change", render);

  const act = (service, n, done) => attempt(
    () => conn.callService("persistent_notification", service, { notification_id: n.notification_id }), done);

  function item(n, cleared) {
    const title = n.title || n.message.split("\n")[0];
    return h("li", { class: `alarm sev-${n.severity}`, "data-id": n.notification_id },
      h("div", { class: "alarm-head" },
        h("span", { class: `badge sev-${n.severity}` }, n.severity),
        h("strong", { class: "alarm-title" }, title),
        n.count > 1 ? h("span", { class: "badge", title: `Raised ${n.count} times` }, `×${n.count}`) : null),
      n.title ? h("p", { class: "message" }, n.message) : null,
      h("p", { class: "muted small" },
        `Raised ${fmtTime(n.created_at)}`,
        n.count > 1 ? `, last ${fmtTime(n.updated_at)} (${ago(Date.parse(n.updated_at) / 1000)})` : "",
        n.acknowledged_at ? `. Acknowledged by ${who(n.acknowledged_by)} ${fmtTime(n.acknowledged_at)}` : "",
        cleared ? `. Cleared by ${who(n.cleared_by)} ${fmtTime(n.cleared_at)}` : "", "."),
      !cleared && ctx.canControl ? h("div", { class: "buttons" },
        n.acknowledged_at ? null : h("button", {
          type: "button", class: "small", "aria-label": `Acknowledge ${title}`,
          onclick: () => act("acknowledge", n, `Acknowledged ${title}`),
        }, "Acknowledge"),
        h("button", {
          type: "button", class: "small", "aria-label": `Clear ${title}`,
          onclick: () => act("dismiss", n, `Cleared ${title}`),
        }, "Clear")) : null);
  }

  function render() {
    const wanted = severity.value;
    const active = [...alarms.items.values()];
    const lists = {
      active: active.filter((n) => !n.acknowledged_at),
      acknowledged: active.filter((n) => n.acknowledged_at),
      history: history || [],
    };
    for (const el of main.querySelectorAll(".tab-count")) {
      const count = lists[el.dataset.view].length;
      el.textContent = el.dataset.view === "history" && !history ? "" : ` (${count})`;
    }
    const key = view.path || "active";
    if (key === "history" && !history) { mount(list, h("p", { class: "muted" }, "Loading…")); return; }
    let shown = lists[key].filter((n) => !wanted || n.severity === wanted);
    if (key !== "history") {
      shown = shown.sort((a, b) => (RANK[a.severity] - RANK[b.severity]) || b.updated_at.localeCompare(a.updated_at));
    }
    mount(list, shown.length
      ? h("ul", { class: "plain alarms card" }, shown.map((n) => item(n, key === "history")))
      : h("p", { class: "muted card" }, key === "history" ? "No cleared alarms kept." : "Nothing to report."));
  }

  async function loadHistory() {
    history = await attempt(() => conn.command({ type: "persistent_notification/history" })) || [];
    render();
  }
  render();
  if (view.path === "history") loadHistory();
  // A cleared alarm moves to the history: read it again when one leaves the active list.
  let size = alarms.items.size;
  return alarms.listen(() => {
    if (view.path === "history" && alarms.items.size < size) loadHistory();
    size = alarms.items.size;
    render();
  });
}
