// Small DOM helpers: element building without a framework, and formatting.

/**
 * Build an element: h("button", {class: "x", onclick: f}, "text", child...).
 * Attributes starting with "on" are listeners; false/null attributes are left out;
 * children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "value" || key === "checked" || key === "disabled") {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace everything inside `el` with `children`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let labelCounter = 0;
/** A labelled form field: <label>text <input></label> with an id for tests and screen readers. */
export function field(text, input) {
  if (!input.id) input.id = `f${++labelCounter}`;
  return h("div", { class: "field" }, h("label", { for: input.id }, text), input);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const todayFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
/** A time (ISO text, seconds since 1970, or Date) for people, in the browser's local time:
 * the time alone when it is today, with the date otherwise. */
export function fmtTime(value) {
  if (value === null || value === undefined) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return (date.toDateString() === new Date().toDateString() ? todayFormat : timeFormat).format(date);
}

/** "5 s ago", "3 min ago"… from seconds since 1970. */
export function ago(seconds) {
  const diff = Math.max(0, Date.now() / 1000 - seconds);
  if (diff < 60) return `${Math.round(diff)} s ago`;
  if (diff < 3600) return `${Math.round(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.round(diff / 3600)} h ago`;
  return `${Math.round(diff / 86400)} d ago`;
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
/**
 * For a state that estimates an earlier moment (its `predicted_for` attribute, ISO time, as
 * NILM's): "for 10:32 · estimated 30 min behind", how far it lagged when it was made. "" for any
 * other state, and for an unavailable one (whose attribute is the last estimate's).
 */
export function estimateFor(state) {
  const at = Date.parse(state?.attributes?.predicted_for ?? "");
  if (Number.isNaN(at) || isUnavailable(state)) return "";
  const behind = Math.max(0, Math.round((state.last_updated - at / 1000) / 60));
  const when = new Date(at);
  const time = clockFormat.format(when);
  const day = when.toDateString() === new Date().toDateString() ? "" : `${when.toLocaleDateString()} `;
  return `for ${day}${time} · estimated ${behind} min behind`;
}

/** An entity's display name. */
export function entityName(state) {
  return state?.attributes?.friendly_name || state?.entity_id || "";
}

/** A state with its unit, for people. */
export function fmtState(state) {
  if (!state) return "";
  if (state.attributes?.device_class === "timestamp" && !isUnavailable(state)) return fmtTime(state.state);
  const unit = state.attributes?.unit_of_measurement;
  // A raw float (a Modbus float32, say) is shown to 6 significant digits, not 42154.19921875.
  if (/^-?\d+\.\d{4,}$/.test(state.state)) {
    const value = Number(Number(state.state).toPrecision(6));
    return unit ? `${value} ${unit}` : String(value);
  }
  return unit && !isUnavailable(state) ? `${state.state} ${unit}` : state.state;
}

export function isUnavailable(state) {
  return !state || state.state === "unavailable" || state.state === "unknown";
}

/** Show a message in the page's live region (read by screen readers). */
export function announce(text, kind = "info") {
  const region = document.getElementById("toast");
  if (!region) return;
  region.className = `toast ${kind}`;
  region.textContent = text;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { region.textContent = ""; region.className = "toast"; }, 6000);
}

/** Run an async action from a control; report its error instead of losing it. */
export async function attempt(action, done) {
  try {
    const result = await action();
    if (done) announce(done);
    return result;
  } catch (err) {
    announce(err.message || String(err), "error");
    return undefined;
  }
}
