// One automation run as a timeline: each step (trigger, condition, action) in the order it ran,
// described in words with the entities' friendly names, its time, its result and any error;
// the raw JSON of each step and of the whole trace stays one click away.

import { entityName, fmtTime, h, mount } from "../dom.js";

const KEYS = { trigger: ["triggers", "trigger"], condition: ["conditions", "condition"], action: ["actions", "action"] };

/** The configuration of the step at `path` ("action/1/then/0") inside an automation's config. */
export function stepConfig(config, path) {
  const [first, ...rest] = path.split("/");
  let node = null;
  for (const key of KEYS[first] || [first]) if (config?.[key] !== undefined) { node = config[key]; break; }
  for (const part of rest) {
    if (node === null || node === undefined) return null;
    node = node[/^\d+$/.test(part) ? Number(part) : part];
  }
  if (first === "trigger" && rest.length === 0 && Array.isArray(node)) return node[0] ?? null;
  return node ?? null;
}

function ids(value) {
  if (!value) return [];
  if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(value)) return value.flatMap(ids);
  if (typeof value === "object") return ids(value.entity_id);
  return [];
}

/** Words for one step, with friendly names for the entities it names. */
export function describeStep(step, names) {
  if (!step || typeof step !== "object") return "";
  const list = (value) => ids(value).map(names).join(", ");
  const trigger = step.trigger || step.platform;
  if (trigger) {
    const who = list(step.entity_id);
    const what = { state: "State", numeric_state: "Value", time: "Time", time_pattern: "Time pattern", event: "Event", template: "Template", sun: "Sun", webhook: "Webhook", mqtt: "MQTT" }[trigger] || trigger;
    const detail = [
      who,
      step.above !== undefined ? `above ${step.above}` : "",
      step.below !== undefined ? `below ${step.below}` : "",
      step.to !== undefined ? `to ${step.to}` : "",
      step.event_type ? `'${step.event_type}'` : "",
      step.at ? `at ${step.at}` : "",
    ].filter(Boolean).join(" ");
    return `${what} trigger${detail ? `: ${detail}` : ""}`;
  }
  if (step.action || step.service) {
    const target = list(step.target) || list(step.entity_id) || list(step.data?.entity_id);
    return `Call ${step.action || step.service}${target ? ` on ${target}` : ""}`;
  }
  if (step.condition) {
    const who = list(step.entity_id);
    return `Condition ${step.condition}${who ? `: ${who}` : ""}${step.state !== undefined ? ` is ${step.state}` : ""}`;
  }
  if (step.delay !== undefined) return `Wait ${typeof step.delay === "object" ? JSON.stringify(step.delay) : step.delay}`;
  if (step.wait_template) return "Wait for a template";
  if (step.wait_for_trigger) return "Wait for a trigger";
  if (step.variables) return `Set ${Object.keys(step.variables).join(", ")}`;
  if (step.choose) return "Choose";
  if (step.if) return "If";
  if (step.repeat) return "Repeat";
  if (step.parallel) return "In parallel";
  if (step.event) return `Fire event '${step.event}'`;
  if (step.stop !== undefined) return `Stop: ${step.stop}`;
  return Object.keys(step)[0] || "";
}

/** A step's result in words (the raw value stays in its details). */
function resultText(result, names) {
  if (!result || typeof result !== "object") return result === undefined ? "" : String(result);
  if ("result" in result) return result.result ? "passed" : "did not pass";
  if (result.params) {
    const { domain, service, target } = result.params;
    const on = ids(target).map(names).join(", ");
    return `called ${domain}.${service}${on ? ` on ${on}` : ""}`;
  }
  if ("choice" in result) return `chose ${result.choice}`;
  if ("delay" in result) return `${result.done ? "waited" : "waiting"} ${result.delay} s`;
  if ("event" in result) return `fired ${result.event}`;
  if ("stop" in result) return `stopped: ${result.stop}${result.error ? " (as an error)" : ""}`;
  if (result.enabled === false) return "disabled: skipped";
  return "";
}

function raw(value) {
  return h("details", { class: "raw" }, h("summary", null, "Raw"), h("pre", { class: "json", tabindex: "0" }, JSON.stringify(value, null, 2)));
}

/** The trace viewer: the run, then its steps as a timeline, then the configuration. */
export function renderTrace(detail, trace, store) {
  const names = (id) => entityName(store?.get(id)) || id;
  const start = Date.parse(trace.timestamp.start);
  const finish = trace.timestamp.finish ? Date.parse(trace.timestamp.finish) : null;
  const steps = Object.entries(trace.trace || {})
    .flatMap(([path, elements]) => elements.map((el) => ({ path, el, at: Date.parse(el.timestamp) })))
    .sort((a, b) => a.at - b.at);
  const failed = trace.error || trace.script_execution === "error";
  mount(detail,
    h("section", { class: "card" }, h("h2", null, "Run"),
      h("dl", { class: "facts" },
        h("dt", null, "Triggered by"), h("dd", { id: "trace-trigger" }, (trace.trigger || "").replace(/\b[a-z_]+\.[a-z0-9_]+\b/g, (id) => (store?.get(id) ? names(id) : id))),
        h("dt", null, "Started"), h("dd", null, fmtTime(trace.timestamp.start)),
        h("dt", null, "Took"), h("dd", null, finish ? `${(finish - start).toFixed(1)} ms` : "still running"),
        h("dt", null, "Result"), h("dd", { id: "trace-result", class: failed ? "error" : "" }, trace.script_execution || trace.state),
        trace.error ? [h("dt", null, "Error"), h("dd", { class: "error" }, trace.error)] : null)),
    h("section", { class: "card" }, h("h2", null, "Steps"),
      steps.length ? h("ol", { class: "timeline steps" }, steps.map(({ path, el, at }) => {
        const result = resultText(el.result, names);
        return h("li", { class: `step ${el.error ? "failed" : ""}`, "data-path": path },
          h("div", { class: "when" }, h("time", { datetime: el.timestamp }, `+${(at - start).toFixed(1)} ms`)),
          h("div", { class: "body" },
            h("strong", { class: "step-title" }, describeStep(stepConfig(trace.config, path), names) || path),
            h("span", { class: "muted path" }, ` ${path}`),
            result ? h("p", { class: "step-result" }, result) : null,
            el.error ? h("p", { class: "error" }, el.error) : null,
            el.changed_variables && !path.startsWith("trigger") ? h("p", { class: "muted" }, `Set ${Object.keys(el.changed_variables).join(", ")}`) : null,
            raw(el)));
      })) : h("p", { class: "muted" }, "No steps ran.")),
    h("section", { class: "card" }, h("h2", null, "Configuration and raw trace"),
      h("details", null, h("summary", null, "Configuration"), h("pre", { class: "json", tabindex: "0" }, JSON.stringify(trace.config, null, 2))),
      h("details", null, h("summary", null, "The whole trace (JSON)"), h("pre", { class: "json", tabindex: "0" }, JSON.stringify(trace, null, 2)))));
}
