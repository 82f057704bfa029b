// Settings: long-lived tokens (everyone), users and roles and the configuration check (admins).

import { rest } from "../api.js";
import { attempt, field, fmtTime, h, mount } from "../dom.js";

const ROLES = ["viewer", "operator", "admin"];

function tokensSection(conn) {
  const section = h("section", { class: "card", "aria-labelledby": "tokens-h" });
  const name = h("input", { required: true, maxlength: 100 });
  const created = h("div", { "aria-live": "polite" });
  async function load() {
    const grants = await conn.command({ type: "auth/refresh_tokens" });
    const tokens = grants.filter((g) => g.token_type === "long_lived_access_token");
    mount(section,
      h("h2", { id: "tokens-h" }, "Long-lived access tokens"),
      h("p", { class: "muted" }, "For scripts and other programs. A token is shown once, when it is made."),
      tokens.length ? h("ul", { class: "tokens" }, tokens.map((t) => h("li", null,
        h("span", null, t.client_name || "token"), h("span", { class: "muted" }, ` created ${fmtTime(t.created_at)}`),
        h("button", {
          type: "button", class: "small danger", "aria-label": `Delete token ${t.client_name}`,
          onclick: async () => {
            if (!confirm(`Delete the token "${t.client_name}"? Programs using it lose access.`)) return;
            await attempt(() => conn.command({ type: "auth/delete_refresh_token", refresh_token_id: t.id }), "Token deleted");
            load();
          },
        }, "Delete")))) : h("p", { class: "muted" }, "No tokens."),
      h("form", {
        class: "inline-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const token = await attempt(() => conn.command({ type: "auth/long_lived_access_token", client_name: name.value.trim(), lifespan: 3650 }));
          if (token) {
            mount(created, h("p", null, "Copy the token now, it is not shown again:"), h("textarea", { readonly: true, rows: 3, class: "token", "aria-label": "New token" }, token));
            name.value = "";
            await load();
          }
        },
      }, field("Token name", name), h("button", { type: "submit", class: "primary" }, "Create token")),
      created);
  }
  load();
  return section;
}

function usersSection(ctx) {
  const { conn, user: me } = ctx;
  const section = h("section", { class: "card", "aria-labelledby": "users-h" });
  const username = h("input", { required: true, autocomplete: "off" });
  const name = h("input", { autocomplete: "off" });
  const password = h("input", { type: "password", required: true, autocomplete: "new-password" });
  const role = h("select", null, ROLES.map((r) => h("option", { value: r }, r)));
  async function load() {
    const users = await conn.command({ type: "config/auth/list" });
    mount(section,
      h("h2", { id: "users-h" }, "Users and roles"),
      h("p", { class: "muted" }, "Viewers see; operators also control equipment; admins also change the configuration and users."),
      h("table", null,
        h("thead", null, h("tr", null, ["User", "Name", "Role", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, users.map((u) => {
          const select = h("select", { "aria-label": `Role of ${u.username}`, disabled: u.is_owner || u.id === me.id },
            ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)));
          select.addEventListener("change", async () => {
            await attempt(() => conn.command({ type: "config/auth/update", user_id: u.id, role: select.value }), `${u.username} is now ${select.value}`);
            load();
          });
          return h("tr", { "data-user": u.username },
            h("td", null, u.username, u.is_owner ? " (owner)" : ""), h("td", null, u.name), h("td", null, select),
            h("td", null, u.is_owner || u.id === me.id ? "" : h("button", {
              type: "button", class: "small danger", "aria-label": `Delete user ${u.username}`,
              onclick: async () => {
                if (!confirm(`Delete the user ${u.username}?`)) return;
                await attempt(() => conn.command({ type: "config/auth/delete", user_id: u.id }), "User deleted");
                load();
              },
            }, "Delete")));
        }))),
      h("form", {
        class: "inline-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const done = await attempt(() => conn.command({
            type: "config/auth/create", username: username.value.trim(), name: name.value.trim() || undefined,
            password: password.value, role: role.value,
          }), "User created");
          if (done) { username.value = ""; name.value = ""; password.value = ""; load(); }
        },
      }, h("h3", null, "Add a user"), field("User name", username), field("Name", name), field("Password", password), field("Role", role),
      h("button", { type: "submit", class: "primary" }, "Add user")));
  }
  load();
  return section;
}

function checkSection() {
  const result = h("div", { "aria-live": "polite" });
  return h("section", { class: "card", "aria-labelledby": "check-h" },
    h("h2", { id: "check-h" }, "Configuration check"),
    h("p", { class: "muted" }, "Reads configuration.yaml again and reports what is wrong, without applying it."),
    h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        mount(result, h("p", { class: "muted" }, "Checking…"));
        const answer = await attempt(() => rest("POST", "/api/config/core/check_config"));
        if (!answer) { mount(result); return; }
        mount(result, answer.result === "valid"
          ? h("p", { class: "badge ok", id: "check-result" }, "Configuration valid")
          : [h("p", { class: "badge bad", id: "check-result" }, "Configuration invalid"), h("pre", { class: "errors" }, answer.errors)]);
      },
    }, "Check configuration"),
    result);
}

export default function settings(ctx, main) {
  const { user } = ctx;
  mount(main,
    h("h1", null, "Settings"),
    h("section", { class: "card" }, h("h2", null, "You"),
      h("dl", { class: "facts" }, h("dt", null, "Name"), h("dd", null, user.name), h("dt", null, "User name"), h("dd", null, user.username),
        h("dt", null, "Role"), h("dd", { id: "my-role" }, user.role))),
    tokensSection(ctx.conn),
    ctx.isAdmin ? usersSection(ctx) : null,
    ctx.isAdmin ? checkSection() : null);
}
