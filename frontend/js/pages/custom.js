// A page an integration contributes (the edgewise_panels hook): its module renders it.
// The module's default export is called as render(element, api) where api has
// {conn, store, user, panel}; it may return a function to call when the page is left.

import { h, mount } from "../dom.js";

export default async function customPanel(ctx, main, [urlPath]) {
  const panel = ctx.panels[urlPath];
  if (!panel) {
    mount(main, h("h1", null, "Not found"), h("p", null, `No panel ${urlPath}.`));
    return null;
  }
  mount(main, h("h1", null, panel.title));
  if (!panel.module_url) {
    main.append(h("p", { class: "muted" }, "This panel has no page of its own."));
    return null;
  }
  const slot = h("div", { class: "custom-panel", "data-panel": urlPath });
  main.append(slot);
  try {
    const module = await import(panel.module_url);
    return (await module.default(slot, { conn: ctx.conn, store: ctx.store, user: ctx.user, panel })) || null;
  } catch (err) {
    mount(slot, h("p", { class: "error", role: "alert" }, `The panel failed to load: ${err.message}`));
    return null;
  }
}
