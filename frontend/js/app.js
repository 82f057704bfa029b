// The panel's shell: log in, connect, keep the states live, and route between pages (#/page/...).

import { auth, Connection } from "./api.js";
import { h, mount } from "./dom.js";
import { alarmsLink, alarmStore } from "./notifications.js";
import { EntityStore } from "./store.js";

const root = document.getElementById("app");

const PAGES = [
  { path: "overview", title: "Overview", load: () => import("./pages/overview.js") },
  { path: "history", title: "History", load: () => import("./pages/history.js") },
  { path: "automations", title: "Automations", load: () => import("./pages/automations.js") },
  { path: "logbook", title: "Logbook", load: () => import("./pages/logbook.js") },
  { path: "alarms", title: "Alarms", load: () => import("./pages/alarms.js") },
  { path: "integrations", title: "Integrations", load: () => import("./pages/integrations.js") },
  { path: "settings", title: "Settings", load: () => import("./pages/settings.js") },
];
const HIDDEN_PAGES = {
  entity: () => import("./pages/entity.js"),
  device: () => import("./pages/equipment.js"),
  panel: () => import("./pages/custom.js"),
};

let leave = null;

async function showLogin() {
  if (leave) { leave(); leave = null; }
  const { default: loginPage } = await import("./pages/login.js");
  mount(root);
  await loginPage(root);
  start();
}

async function start() {
  if (!auth.loggedIn) {
    await showLogin();
    return;
  }
  const conn = new Connection();
  try {
    await conn.connect();
  } catch (err) {
    if (err.code === 401) {
      auth.save(null);
      await showLogin();
      return;
    }
    mount(root, h("p", { class: "error", role: "alert" }, `Cannot reach Edgewise: ${err.message}. Retrying…`));
    setTimeout(start, 3000);
    return;
  }
  const store = new EntityStore(conn);
  store.start();
  const [user, panels, config] = await Promise.all([
    conn.command({ type: "auth/current_user" }),
    conn.command({ type: "get_panels" }),
    conn.command({ type: "get_config" }),
  ]);
  const ctx = {
    conn,
    store,
    user,
    panels,
    alarms: alarmStore(conn),
    config,
    temperatureUnit: config?.unit_system?.temperature || "°C",
    canControl: user.role === "operator" || user.role === "admin",
    isAdmin: user.role === "admin",
    registries: null,
    async loadRegistries(force = false) {
      if (!this.registries || force) {
        const [areas, devices, entities, names] = await Promise.all([
          conn.command({ type: "config/area_registry/list" }),
          conn.command({ type: "config/device_registry/list" }),
          conn.command({ type: "config/entity_registry/list" }),
          conn.command({ type: "edgewise/user_names" }),
        ]);
        this.registries = {
          areas: new Map(areas.map((a) => [a.area_id, a])),
          devices: new Map(devices.map((d) => [d.id, d])),
          entities: new Map(entities.map((e) => [e.entity_id, e])),
          userNames: names,
        };
      }
      return this.registries;
    },
  };
  conn.addEventListener("logout", () => { conn.close(); showLogin(); });
  shell(ctx);
}

function shell(ctx) {
  const { conn, user } = ctx;
  const status = h("span", { class: "conn ok", role: "status", "aria-live": "polite" }, "Live");
  // A small banner while the server is away (a restart), and a moment after it is back.
  const banner = h("div", { class: "conn-banner", role: "status", "aria-live": "polite", hidden: true });
  let bannerTimer = null;
  conn.addEventListener("connected", () => {
    status.className = "conn ok"; status.textContent = "Live";
    if (banner.hidden) return;
    banner.textContent = "Reconnected";
    banner.className = "conn-banner ok";
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { banner.hidden = true; }, 3000);
  });
  conn.addEventListener("disconnected", () => {
    status.className = "conn down"; status.textContent = "Reconnecting…";
    clearTimeout(bannerTimer);
    banner.textContent = "Connection to Edgewise lost; reconnecting…";
    banner.className = "conn-banner down";
    banner.hidden = false;
  });
  const extra = Object.values(ctx.panels).filter((p) => p.url_path !== "edgewise");
  const links = [
    ...PAGES.map((p) => ({ href: `#/${p.path}`, title: p.title, path: p.path })),
    ...extra.map((p) => ({ href: `#/panel/${p.url_path}`, title: p.title, path: `panel/${p.url_path}` })),
  ];
  // The Alarms page is reached from the header's alarm counts, not from the page links.
  const navLinks = links.filter((l) => l.path !== "alarms").map((l) => h("a", { href: l.href, "data-path": l.path }, l.title));
  const logout = h("button", {
    type: "button", class: "link",
    onclick: async () => { ctx.conn.close(); await auth.logout(); location.hash = ""; showLogin(); },
  }, "Log out");
  const main = h("main", { id: "main", tabindex: "-1" });
  const alarms = alarmsLink(ctx.alarms);
  const header = siteHeader(navLinks, [status, alarms, h("span", { class: "user", title: `Role: ${user.role}` }, `${user.name} (${user.role})`), logout]);
  mount(root,
    header.el,
    banner,
    main,
    h("div", { id: "toast", class: "toast", role: "status", "aria-live": "polite" }));
  navLinks.push(alarms);
  // Drawers of integrations (a panel whose config says drawer: true exports drawer(api, parent)):
  // on every page, inside the shell so that logging out removes them.
  for (const panel of Object.values(ctx.panels)) {
    if (!panel.config?.drawer || !panel.module_url) continue;
    import(panel.module_url)
      .then((module) => module.drawer?.({ conn, store: ctx.store, user, panel }, root))
      .catch((err) => console.error(`The drawer of ${panel.url_path} failed to load`, err));
  }

  let cleanup = null;
  let token = 0;
  async function route() {
    const parts = (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
    const [page, ...params] = parts;
    const entry = PAGES.find((p) => p.path === page);
    const loader = entry ? entry.load : HIDDEN_PAGES[page];
    for (const a of navLinks) {
      const current = a.dataset.path === page || a.dataset.path === parts.slice(0, 2).join("/");
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (cleanup) { cleanup(); cleanup = null; }
    const mine = ++token;
    if (!loader) {
      mount(main, h("h1", null, "Not found"), h("p", null, h("a", { href: "#/overview" }, "Back to the overview")));
      return;
    }
    const { default: render } = await loader();
    if (mine !== token) return;
    mount(main);
    document.title = `${entry ? entry.title : page} · Edgewise`;
    cleanup = (await render(ctx, main, params)) || null;
  }
  // One shell at a time: assigning replaces the listener of a shell left by logging out.
  // A page with unsaved changes sets ctx.leaveGuard (true: leaving is fine); a refused
  // navigation puts the address back without rendering again.
  let shown = location.hash;
  window.onhashchange = () => {
    if (ctx.leaveGuard && location.hash !== shown && !ctx.leaveGuard()) {
      history.replaceState(null, "", shown || "#/");
      return;
    }
    ctx.leaveGuard = null;
    shown = location.hash;
    header.close();
    route().then(() => main.focus({ preventScroll: true }));
  };
  // A table wider than its place (a phone) scrolls inside itself, never the page; it and a code
  // block that scrolls sideways are focusable, so keyboards can scroll them.
  let marking = 0;
  const markScrollable = () => {
    marking = 0;
    for (const el of main.querySelectorAll("table:not(.scroll-x)")) {
      if (el.parentElement && el.offsetWidth > el.parentElement.clientWidth + 1) el.classList.add("scroll-x");
    }
    for (const el of main.querySelectorAll("table.scroll-x, pre")) {
      if (el.scrollWidth > el.clientWidth + 1 && !el.hasAttribute("tabindex")) el.tabIndex = 0;
    }
  };
  const scrollables = new MutationObserver(() => { if (!marking) marking = requestAnimationFrame(markScrollable); });
  scrollables.observe(main, { childList: true, subtree: true });
  addEventListener("resize", markScrollable);
  leave = () => { scrollables.disconnect(); removeEventListener("resize", markScrollable); header.stop(); window.onhashchange = null; ctx.leaveGuard = null; if (cleanup) cleanup(); cleanup = null; token++; };
  route();
}

/**
 * The header, one row at any width: the brand, the page links, and `who` (status, alarms, user).
 * On a phone the links are behind a Menu button; on a desktop the links that do not fit move into
 * a "More" menu. Both menus close on Escape (focus back on their button) and on navigation.
 */
function siteHeader(navLinks, who) {
  const phone = matchMedia("(max-width: 720px)");
  const items = navLinks.map((a) => h("li", null, a));
  const mainList = h("ul", { class: "nav-links" }, items);
  const moreList = h("ul", { class: "nav-more", id: "nav-more", hidden: true });
  const moreButton = h("button", { type: "button", class: "more-button", "aria-expanded": "false", "aria-controls": "nav-more" }, "More");
  const more = h("div", { class: "more", hidden: true }, moreButton, moreList);
  const nav = h("nav", { id: "site-nav", "aria-label": "Pages" }, mainList, more);
  const menuButton = h("button", { type: "button", class: "menu-button", "aria-expanded": "false", "aria-controls": "site-nav" },
    h("span", { class: "burger", "aria-hidden": "true" }), h("span", { class: "label" }, "Menu"));
  const el = h("header", { class: "top" }, menuButton, h("a", { class: "brand", href: "#/overview" }, "Edgewise"), nav, h("div", { class: "who" }, who));

  function setOpen(button, panelOpen, focusFirst) {
    button.setAttribute("aria-expanded", String(panelOpen));
    if (button === menuButton) el.classList.toggle("menu-open", panelOpen);
    else moreList.hidden = !panelOpen;
    const first = (button === menuButton ? mainList : moreList).querySelector("a");
    if (panelOpen && focusFirst && first) first.focus();
  }
  const isOpen = (button) => button.getAttribute("aria-expanded") === "true";
  menuButton.addEventListener("click", () => setOpen(menuButton, !isOpen(menuButton), true));
  moreButton.addEventListener("click", () => setOpen(moreButton, !isOpen(moreButton), true));
  el.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const button of [menuButton, moreButton]) {
      if (isOpen(button)) { setOpen(button, false); button.focus(); }
    }
  });
  const outside = (event) => {
    if (!el.contains(event.target)) { setOpen(menuButton, false); setOpen(moreButton, false); }
  };
  document.addEventListener("click", outside);

  // Desktop: keep the links on one row; those past its end go into "More".
  let frame = 0;
  function fit() {
    frame = 0;
    mainList.append(...items);
    mount(moreList);
    more.hidden = true;
    const overflows = () => mainList.scrollWidth > mainList.clientWidth + 1;
    if (phone.matches || !overflows()) return;
    more.hidden = false;
    const moved = [];
    while (mainList.children.length > 1 && overflows()) {
      moved.unshift(mainList.lastElementChild);
      mainList.lastElementChild.remove();
    }
    moreList.append(...moved);
    moreButton.classList.toggle("current", Boolean(moreList.querySelector("[aria-current]")));
  }
  const refit = () => { if (!frame) frame = requestAnimationFrame(fit); };
  const observer = new ResizeObserver(refit);
  observer.observe(el);
  phone.addEventListener("change", refit);
  refit();
  return {
    el,
    close() { setOpen(menuButton, false); setOpen(moreButton, false); refit(); },
    stop() { observer.disconnect(); phone.removeEventListener("change", refit); document.removeEventListener("click", outside); },
  };
}

// "Skip to content": move the focus to the page itself (the address is the router's, #main is not a page).
document.querySelector(".skip")?.addEventListener("click", (event) => {
  const main = document.getElementById("main");
  if (!main) return;
  event.preventDefault();
  main.focus();
  main.scrollIntoView();
});


start();
