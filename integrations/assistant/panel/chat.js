// The assistant's chat: a drawer on every page (export `drawer`, mounted by the panel's shell for
// panels whose config says drawer: true) and a full page (the default export). Answers stream in
// as they are generated; actions that need the user's confirmation get Confirm / Cancel buttons;
// a confirmed or cancelled action goes back to the model, whose next answer streams in; a valid
// automation draft gets a Save button (admins); the tokens of the last turn, today's against the
// daily limit and their cost show under the form. Every text from the server is inserted
// as text, never as HTML.

const STYLE = `
.assistant-fab { position: fixed; right: 1rem; bottom: 1rem; z-index: 30; border-radius: 2rem; padding: .6rem 1rem; }
.assistant-drawer { position: fixed; top: 0; right: 0; bottom: 0; width: min(28rem, 100vw); z-index: 31;
  background: var(--bg, #fff); color: var(--fg, #111); border-left: 1px solid #8884; box-shadow: -4px 0 16px #0002;
  display: flex; flex-direction: column; }
.assistant-drawer[hidden] { display: none; }
.assistant-chat { display: flex; flex-direction: column; gap: .5rem; min-height: 0; flex: 1; padding: .75rem; }
.assistant-bar { display: flex; gap: .5rem; align-items: center; }
.assistant-bar select { flex: 1; min-width: 0; }
.assistant-log { flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: .5rem; min-height: 12rem; }
.assistant-msg { padding: .5rem .7rem; border-radius: .5rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.assistant-msg.user { align-self: flex-end; background: #4e79a722; }
.assistant-msg.assistant { align-self: flex-start; background: #8881; }
.assistant-note { font-size: .85em; opacity: .75; }
.assistant-action { border: 1px solid #f28e2b; border-radius: .5rem; padding: .5rem; display: flex; flex-direction: column; gap: .4rem; }
.assistant-action pre { margin: 0; max-height: 12rem; overflow: auto; }
.assistant-form { display: flex; gap: .5rem; }
.assistant-form textarea { flex: 1; resize: vertical; min-height: 2.5rem; }
.assistant-error { color: var(--bad, #b00); }
.assistant-usage { font-size: .8em; opacity: .8; }
`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function addStyle() {
  if (document.getElementById("assistant-style")) return;
  document.head.append(el("style", { id: "assistant-style" }, STYLE));
}

/** Send a command that streams events (assistant/chat, assistant/confirm, assistant/cancel);
 *  events go to onEvent until done or error. Resolves with the command's result; a result whose
 *  `continues` is false (an action not from this conversation) has no events after it. */
function stream(conn, message, onEvent) {
  return new Promise((resolve, reject) => {
    const id = conn.send(message);
    const handle = { message, callback: (event) => {
      onEvent(event);
      if (event.type === "done" || event.type === "error") conn.subscriptions.delete(id);
    } };
    // Never re-sent on reconnect: a question is asked once.
    conn.addEventListener("disconnected", () => conn.subscriptions.delete(id), { once: true });
    conn.subscriptions.set(id, handle);
    conn.pending.set(id, {
      resolve: (result) => {
        if (result && result.continues === false) conn.subscriptions.delete(id);
        resolve(result);
      },
      reject: (err) => { conn.subscriptions.delete(id); reject(err); },
    });
  });
}

const number = (n) => Number(n || 0).toLocaleString("en-US");
const dollars = (n) => `$${Number(n || 0).toFixed(4)}`;

/** The chat itself, in `root`. */
export function chatView(root, api) {
  addStyle();
  const { conn, user } = api;
  let sessionId = null;
  const log = el("div", { class: "assistant-log", role: "log", "aria-live": "polite" });
  const input = el("textarea", { rows: 2, maxlength: 4000, placeholder: "Ask about the site…", "aria-label": "Question" });
  const send = el("button", { type: "submit" }, "Send");
  const sessions = el("select", { "aria-label": "Conversations" });
  const remove = el("button", { type: "button", class: "link", title: "Delete this conversation" }, "Delete");
  const usage = el("div", { class: "assistant-usage", role: "status", "aria-label": "Token use" });
  let lastTurn = null;

  /** Tokens of the last turn, today's against the daily limit, and today's cost. */
  function showUsage(today, turn = lastTurn) {
    lastTurn = turn;
    const parts = [];
    if (turn) parts.push(`This turn: ${number(turn.total_tokens)} tokens (${dollars(turn.cost)})`);
    parts.push(`Today: ${number(today.total_tokens)} of ${number(today.limit)} tokens`);
    parts.push(`${dollars(today.cost)} today`);
    usage.textContent = parts.join(" · ");
    usage.classList.toggle("assistant-error", today.total_tokens >= today.limit);
  }

  async function loadUsage() {
    try { showUsage(await conn.command({ type: "assistant/usage" })); } catch { /* offline */ }
  }

  /** A handler for the events of one streamed answer (a question, or a confirmation's outcome). */
  function turnHandler() {
    let current = null;
    send.disabled = true;
    return (event) => {
      if (event.type === "delta") { current ??= line("assistant", ""); current.textContent += event.text; log.scrollTop = log.scrollHeight; }
      else if (event.type === "tool") { current = null; note(`Looking up: ${event.name}…`); }
      else if (event.type === "confirmation") confirmation(event);
      else if (event.type === "draft") draft(event);
      else if (event.type === "error") { note(event.message, "assistant-error"); send.disabled = false; }
      else if (event.type === "done") {
        send.disabled = false;
        if (event.today) showUsage(event.today, event.usage);
        loadSessions();
      }
    };
  }

  function line(cls, text) {
    const node = el("div", { class: `assistant-msg ${cls}` }, text);
    log.append(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function note(text, cls = "assistant-note") {
    const node = el("div", { class: cls }, text);
    log.append(node);
    log.scrollTop = log.scrollHeight;
  }

  function confirmation(event) {
    const box = el("div", { class: "assistant-action", role: "group", "aria-label": "Needs confirmation" },
      el("strong", {}, "Needs your confirmation"), el("span", {}, event.summary));
    const buttons = el("div", { class: "assistant-bar" });
    const done = (text) => { buttons.replaceWith(el("span", { class: "assistant-note" }, text)); };
    // The outcome goes back to the model, whose next answer streams in below.
    const settle = async (type, said) => {
      for (const button of buttons.querySelectorAll("button")) button.disabled = true;
      const onEvent = turnHandler();
      try { const r = await stream(conn, { type, confirmation_id: event.confirmation_id }, onEvent); done(said(r)); }
      catch (err) { done(type === "assistant/confirm" ? `Not done: ${err.message}` : err.message); send.disabled = false; }
    };
    buttons.append(
      el("button", { type: "button", onclick: () => settle("assistant/confirm", (r) => `Done: ${r.summary}`) }, "Confirm"),
      el("button", { type: "button", class: "link", onclick: () => settle("assistant/cancel", () => "Cancelled") }, "Cancel"));
    box.append(buttons);
    log.append(box);
  }

  function draft(event) {
    const box = el("div", { class: "assistant-action", role: "group", "aria-label": "Automation draft" },
      el("strong", {}, "Automation draft"), el("pre", {}, event.yaml));
    if (user.role === "admin") {
      const save = el("button", { type: "button", onclick: async () => {
        save.disabled = true;
        try { const r = await conn.command({ type: "assistant/save_draft", draft_id: event.draft_id }); save.replaceWith(el("span", { class: "assistant-note" }, `Saved as ${r.automation_id}`)); }
        catch (err) { save.disabled = false; note(err.message, "assistant-error"); }
      } }, "Save");
      box.append(save);
    } else {
      box.append(el("span", { class: "assistant-note" }, "An admin can save it."));
    }
    log.append(box);
  }

  async function loadSessions() {
    let list = [];
    try { list = (await conn.command({ type: "assistant/sessions" })).sessions; } catch { /* offline */ }
    sessions.replaceChildren(el("option", { value: "" }, "New conversation"),
      ...list.map((s) => el("option", { value: s.id, selected: s.id === sessionId }, s.title)));
  }

  async function open(id) {
    sessionId = id || null;
    log.replaceChildren();
    if (!sessionId) return;
    const { messages } = await conn.command({ type: "assistant/session", session_id: sessionId });
    for (const message of messages) {
      for (const block of message.content) {
        if (block.type === "text") line(message.role, block.text);
        else if (block.type === "tool_use") note(`Used ${block.name}`);
      }
    }
  }

  sessions.addEventListener("change", () => open(sessions.value).catch((err) => note(err.message, "assistant-error")));
  remove.addEventListener("click", async () => {
    if (!sessionId) return;
    await conn.command({ type: "assistant/session/delete", session_id: sessionId });
    await open(null);
    await loadSessions();
  });

  const form = el("form", { class: "assistant-form", onsubmit: async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send.disabled = true;
    line("user", text);
    try {
      const message = { type: "assistant/chat", text };
      if (sessionId) message.session_id = sessionId;
      sessionId = (await stream(conn, message, turnHandler())).session_id;
    } catch (err) {
      note(err.message, "assistant-error");
      send.disabled = false;
    }
  } }, input, send);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });

  root.append(el("div", { class: "assistant-chat" }, el("div", { class: "assistant-bar" }, sessions, remove), log, form, usage));
  loadSessions();
  loadUsage();
  return () => {};
}

/** The drawer on every page: a button that opens the chat at the side. */
export function drawer(api, parent = document.body) {
  addStyle();
  // One drawer: a shell drawn again (after a new login) replaces the previous one.
  document.getElementById("assistant-drawer")?.remove();
  document.getElementById("assistant-fab")?.remove();
  const panel = el("aside", { class: "assistant-drawer", hidden: true, "aria-label": "Assistant" });
  const close = el("button", { type: "button", class: "link", "aria-label": "Close the assistant" }, "Close");
  panel.append(el("div", { class: "assistant-bar", style: "padding: .75rem .75rem 0" }, el("strong", { style: "flex: 1" }, "Assistant"), close));
  let started = false;
  const fab = el("button", { type: "button", id: "assistant-fab", class: "assistant-fab", "aria-expanded": "false", "aria-controls": "assistant-drawer" }, "Ask");
  panel.id = "assistant-drawer";
  fab.addEventListener("click", () => {
    if (!started) { chatView(panel, api); started = true; }
    panel.hidden = false;
    fab.hidden = true;
    fab.setAttribute("aria-expanded", "true");
    panel.querySelector("textarea")?.focus();
  });
  close.addEventListener("click", () => {
    panel.hidden = true;
    fab.hidden = false;
    fab.setAttribute("aria-expanded", "false");
    fab.focus();
  });
  parent.append(fab, panel);
  return () => { fab.remove(); panel.remove(); };
}

export default function render(element, api) {
  return chatView(element, api);
}
