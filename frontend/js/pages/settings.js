// Settings: one's password and long-lived tokens (everyone; admins issue tokens for others),
// users, roles and password resets and the configuration check (admins).

import { rest } from "../api.js";
import { attempt, field, fmtTime, h, mount } from "../dom.js";

const ROLES = ["viewer", "operator", "admin"];

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
/** "expires 7 Dec 2036" (or "never expires") from seconds since 1970. */
function expiry(expiresAt) {
  return expiresAt ? `expires ${dateFormat.format(new Date(expiresAt * 1000))}` : "never expires";
}

/** A read-only field with the text and a button that copies it. */
function copyable(label, text) {
  const box = h("textarea", { readonly: true, rows: 3, class: "token", "aria-label": label }, text);
  const copy = h("button", {
    type: "button", class: "small",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        // Without the clipboard API (plain http on another host): select it and copy that way.
        box.select();
        document.execCommand("copy");
      }
      copy.textContent = "Copied";
    },
  }, "Copy");
  return h("div", { class: "copyable" }, box, copy);
}

function tokensSection(ctx) {
  const { conn, user: me, isAdmin } = ctx;
  const section = h("section", { class: "card", "aria-labelledby": "tokens-h" });
  const name = h("input", { required: true, maxlength: 100 });
  const days = h("input", { type: "number", min: 1, max: 3650, value: 3650, required: true });
  const forUser = h("select");
  const created = h("div", { "aria-live": "polite" });
  async function load() {
    const [grants, users] = await Promise.all([
      conn.command({ type: "auth/refresh_tokens", all_users: isAdmin || undefined }),
      isAdmin ? conn.command({ type: "config/auth/list" }) : Promise.resolve([me]),
    ]);
    const names = new Map(users.map((u) => [u.id, u.username]));
    const chosen = forUser.value || me.id;
    mount(forUser, users.map((u) => h("option", { value: u.id, selected: u.id === chosen }, `${u.username} (${u.role})`)));
    const tokens = grants.filter((g) => g.token_type === "long_lived_access_token");
    mount(section,
      h("h2", { id: "tokens-h" }, "Long-lived access tokens"),
      h("p", { class: "muted" }, isAdmin
        ? "For scripts, programs and wall screens. A token acts as its user (a viewer's token only reads). It is shown once, when it is made."
        : "For scripts and other programs. A token is shown once, when it is made."),
      tokens.length ? h("ul", { class: "tokens" }, tokens.map((t) => h("li", { "data-token": t.client_name || "" },
        h("span", null, t.client_name || "token"),
        isAdmin ? h("span", { class: "muted" }, ` for ${names.get(t.user_id) || "?"}`) : null,
        h("span", { class: "muted" }, ` created ${fmtTime(t.created_at)}, ${expiry(t.expires_at)}`),
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
          const lifespan = Number(days.value);
          const owner = forUser.value || me.id;
          const token = await attempt(() => conn.command({
            type: "auth/long_lived_access_token", client_name: name.value.trim(), lifespan,
            user_id: owner === me.id ? undefined : owner,
          }));
          if (token) {
            const until = Date.now() / 1000 + lifespan * 86400;
            mount(created,
              h("p", null, `Token for ${names.get(owner) || me.username}, ${expiry(until)}. Copy it now, it is not shown again:`),
              copyable("New token", token));
            name.value = "";
            await load();
          }
        },
      }, field("Token name", name), isAdmin ? field("For user", forUser) : null, field("Lasts (days)", days),
      h("button", { type: "submit", class: "primary" }, "Create token")),
      created);
  }
  load();
  return section;
}

function passwordSection(conn) {
  const current = h("input", { type: "password", required: true, autocomplete: "current-password" });
  const next = h("input", { type: "password", required: true, minlength: 8, maxlength: 256, autocomplete: "new-password" });
  const again = h("input", { type: "password", required: true, autocomplete: "new-password" });
  return h("section", { class: "card", "aria-labelledby": "password-h" },
    h("h2", { id: "password-h" }, "Change your password"),
    h("form", {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        if (next.value !== again.value) { again.setCustomValidity("The new passwords differ"); again.reportValidity(); return; }
        const done = await attempt(() => conn.command({ type: "auth/change_password", current_password: current.value, new_password: next.value }), "Password changed");
        if (done !== undefined) { current.value = ""; next.value = ""; again.value = ""; }
      },
    }, field("Current password", current), field("New password (at least 8 characters)", next), field("New password again", again),
    h("button", { type: "submit", class: "primary" }, "Change password")));
}

function resetPassword(conn, u) {
  const input = h("input", { type: "password", required: true, minlength: 8, maxlength: 256, autocomplete: "new-password", "aria-label": `New password for ${u.username}` });
  return h("details", { class: "reset" }, h("summary", null, "Reset password"),
    h("form", {
      onsubmit: async (event) => {
        event.preventDefault();
        const done = await attempt(() => conn.command({ type: "config/auth_provider/homeassistant/admin_change_password", user_id: u.id, password: input.value }), `Password of ${u.username} reset`);
        if (done !== undefined) input.value = "";
      },
    }, input, h("button", { type: "submit", class: "small" }, "Set")));
}

function usersSection(ctx) {
  const { conn, user: me } = ctx;
  const section = h("section", { class: "card", "aria-labelledby": "users-h" });
  const username = h("input", { required: true, autocomplete: "off" });
  const name = h("input", { autocomplete: "off" });
  const password = h("input", { type: "password", required: true, minlength: 8, maxlength: 256, autocomplete: "new-password", placeholder: "at least 8 characters" });
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
            h("td", null, u.id === me.id ? "" : resetPassword(conn, u), u.is_owner || u.id === me.id ? "" : h("button", {
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
    passwordSection(ctx.conn),
    tokensSection(ctx),
    ctx.isAdmin ? usersSection(ctx) : null,
    ctx.isAdmin ? checkSection() : null);
}
