// Charts with uPlot (loaded on first use): several series with one y axis per unit, dashed
// setpoint lines, and bars for energy per hour or day.

import { h, mount } from "./dom.js";

let uplotLoading = null;

/** Load uPlot (script and style) once, when a chart is first shown. */
export function loadUplot() {
  if (!uplotLoading) {
    const base = new URL("../vendor/uplot/", import.meta.url);
    uplotLoading = new Promise((resolve, reject) => {
      document.head.append(h("link", { rel: "stylesheet", href: new URL("uPlot.min.css", base) }));
      const script = h("script", { src: new URL("uPlot.iife.min.js", base) });
      script.onload = () => resolve(window.uPlot);
      script.onerror = () => reject(new Error("Could not load the chart library"));
      document.head.append(script);
    });
  }
  return uplotLoading;
}

/** Series colours that read on light and dark backgrounds. */
export const COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

function theme() {
  const style = getComputedStyle(document.documentElement);
  return { faint: style.getPropertyValue("--muted").trim() || "#888", grid: style.getPropertyValue("--line").trim() || "#ddd" };
}

const unitLabel = (unit) => unit || "value";

/**
 * Keep `plot` fitting its container (a phone turned, a window resized) and in the page's
 * colours when light and dark switch; stops when the container leaves the page.
 */
function follow(plot, container, height) {
  const dark = matchMedia("(prefers-color-scheme: dark)");
  const recolour = () => {
    const { faint, grid } = theme();
    for (const axis of plot.axes) {
      axis.stroke = () => faint;
      if (axis.grid) axis.grid.stroke = () => grid;
      if (axis.ticks) axis.ticks.stroke = () => grid;
    }
    plot.redraw(false, true);
  };
  let width = container.clientWidth;
  const resized = new ResizeObserver(() => {
    if (!container.isConnected) { resized.disconnect(); dark.removeEventListener("change", recolour); return; }
    const next = Math.max(280, container.clientWidth);
    if (Math.abs(next - width) > 4) { width = next; plot.setSize({ width: next, height }); }
  });
  resized.observe(container);
  dark.addEventListener("change", recolour);
}

/**
 * A line chart of `lines` = [{label, unit, xs (s), ys, dash?, step?, color?}] over [start, end]
 * (seconds), with one y axis per unit (left, right, then alternating). Answers the uPlot.
 */
export async function lineChart(container, lines, start, end, { height = 280, title = "" } = {}) {
  const uPlot = await loadUplot();
  // uPlot wants one x array: the union of every series' times, each series null where it has none.
  const times = [...new Set(lines.flatMap((l) => l.xs))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const data = [times, ...lines.map((l) => {
    const ys = new Array(times.length).fill(null);
    l.xs.forEach((x, i) => { ys[index.get(x)] = l.ys[i]; });
    return ys;
  })];
  const units = [...new Set(lines.map((l) => unitLabel(l.unit)))];
  const { faint, grid } = theme();
  const axes = [{ stroke: faint, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } }];
  units.forEach((unit, i) => {
    axes.push({
      scale: unit, label: unit, stroke: faint, side: i % 2 === 0 ? 3 : 1,
      grid: { show: i === 0, stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, labelSize: 18,
    });
  });
  const scales = { x: { time: true, range: () => [start, end] } };
  for (const unit of units) scales[unit] = { auto: true };
  mount(container);
  const width = Math.max(280, container.clientWidth || 600);
  const plot = new uPlot({
    title, width, height, scales, axes,
    series: [{}, ...lines.map((l, i) => ({
      label: l.unit ? `${l.label} (${l.unit})` : l.label,
      scale: unitLabel(l.unit),
      stroke: l.color || COLORS[i % COLORS.length],
      width: l.dash ? 1.5 : 2,
      dash: l.dash ? [6, 4] : undefined,
      spanGaps: true,
      points: l.dash ? { show: false } : undefined,
      paths: l.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
    }))],
  }, data, container);
  follow(plot, container, height);
  container.dataset.units = units.join(",");
  container.dataset.series = lines.map((l) => (l.dash ? `${l.label}:dashed` : l.label)).join("|");
  return plot;
}

/**
 * A bar chart of `bars` = [{label, unit, xs (period starts, s), ys}], bars `step` seconds wide;
 * several series are stacked (each bar's top is the total of the series up to it).
 */
export async function barChart(container, bars, start, end, step, { height = 240 } = {}) {
  const uPlot = await loadUplot();
  const starts = [...new Set(bars.flatMap((b) => b.xs))].sort((a, b) => a - b);
  const index = new Map(starts.map((t, i) => [t, i]));
  const totals = new Array(starts.length).fill(0);
  const stacked = bars.map((b) => {
    const own = new Array(starts.length).fill(0);
    b.xs.forEach((x, i) => { own[index.get(x)] = b.ys[i] ?? 0; });
    return own.map((v, i) => (totals[i] += v));
  });
  // The tallest (the total) is drawn first, each series before it on top.
  const order = bars.map((_, i) => i).reverse();
  const data = [starts.map((t) => t + step / 2), ...order.map((i) => stacked[i])];
  const { faint, grid } = theme();
  const unit = bars[0]?.unit || "";
  mount(container);
  const width = Math.max(280, container.clientWidth || 600);
  const plot = new uPlot({
    width, height,
    // The last period's bar is whole even when the period is still running.
    scales: {
      x: { time: true, range: () => [Math.min(start, starts[0] ?? start), Math.max(end, (starts[starts.length - 1] ?? 0) + step)] },
      y: { range: (u, min, max) => [0, Math.max(max, 0.001) * 1.1] },
    },
    axes: [
      { stroke: faint, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: faint, label: unit, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, labelSize: 18 },
    ],
    series: [{}, ...order.map((i) => ({
      label: bars.length > 1 ? `${bars[i].label} (${bars[i].unit}, stacked)` : `${bars[i].label} (${bars[i].unit})`,
      stroke: COLORS[i % COLORS.length],
      fill: `${COLORS[i % COLORS.length]}b0`,
      paths: uPlot.paths.bars({ size: [0.7, 60], align: 0, gap: 1 }),
      points: { show: false },
    }))],
  }, data, container);
  follow(plot, container, height);
  container.dataset.bars = String(starts.length);
  return plot;
}
