// Log in, or on first start create the owner (onboarding). Resolves once logged in.

import { login, needsOnboarding, onboard } from "../api.js";
import { field, h, mount } from "../dom.js";

export default async function loginPage(root) {
  let onboarding = false;
  try {
    onboarding = await needsOnboarding();
  } catch {
    onboarding = false;
  }
  return new Promise((resolve) => {
    const error = h("p", { class: "error", role: "alert", id: "login-error" });
    const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
    const password = h("input", {
      name: "password", type: "password", required: true,
      autocomplete: onboarding ? "new-password" : "current-password",
    });
    const name = h("input", { name: "name", autocomplete: "name", required: true });
    const confirm = h("input", { name: "confirm", type: "password", required: true, autocomplete: "new-password" });
    const submit = h("button", { type: "submit", class: "primary" }, onboarding ? "Create owner account" : "Log in");
    const form = h("form", {
      class: "card login", "aria-describedby": "login-error",
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        if (onboarding && password.value !== confirm.value) {
          error.textContent = "The passwords differ.";
          return;
        }
        submit.disabled = true;
        try {
          if (onboarding) await onboard(name.value.trim(), username.value.trim(), password.value);
          else await login(username.value.trim(), password.value);
          resolve();
        } catch (err) {
          error.textContent = err.message;
          submit.disabled = false;
          password.focus();
        }
      },
    },
    h("h1", null, onboarding ? "Welcome to Edgewise" : "Log in to Edgewise"),
    onboarding ? h("p", null, "Create the owner account: it can add other users later.") : null,
    onboarding ? field("Name", name) : null,
    field("User name", username),
    field("Password", password),
    onboarding ? field("Confirm password", confirm) : null,
    error,
    submit);
    mount(root, h("main", { id: "main", class: "center" }, form));
    (onboarding ? name : username).focus();
  });
}
