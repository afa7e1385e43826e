// A small line chart of measures over time, drawn as an inline SVG by DOM calls (no library, no inline script:
// the page's CSP allows it). Each point carries a <title> ("72,5 kg le 02/03/2024") for a pointer or a screen
// reader, and the figure is named by its caption; the measures' list beside it holds the same values as text.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 520, HEIGHT = 210, PAD_LEFT = 50, PAD_RIGHT = 14, PAD_TOP = 12, PAD_BOTTOM = 32;
const TICKS = 4;
// Line colours with at least 3:1 contrast on white (WCAG 1.4.11, non-text contrast); app.css's .swatch-N match.
export const COLOURS = ["#000091", "#b34000", "#18753c"];

function node(tag, attributes = {}, text = "") {
  const made = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, String(value));
  if (text) made.textContent = text;
  return made;
}

function number(value) { return String(Math.round(value * 10) / 10).replace(".", ","); }

// series: [{label, unit, points: [{at: Date, value: Number, day: "jj/mm/aaaa"}]}]; returns the <svg>.
export function lineChart(series, name) {
  const all = series.flatMap((s) => s.points);
  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": name, class: "chart" });
  if (!all.length) return svg;
  const times = all.map((p) => p.at.getTime());
  const values = all.map((p) => p.value);
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  if (t0 === t1) { t0 -= 86400000; t1 += 86400000; }  // one day: centred
  let [v0, v1] = [Math.min(...values), Math.max(...values)];
  const margin = Math.max((v1 - v0) * 0.15, Math.abs(v1) * 0.02, 1);
  [v0, v1] = [v0 - margin, v1 + margin];
  const x = (t) => PAD_LEFT + (t - t0) / (t1 - t0) * (WIDTH - PAD_LEFT - PAD_RIGHT);
  const y = (v) => HEIGHT - PAD_BOTTOM - (v - v0) / (v1 - v0) * (HEIGHT - PAD_TOP - PAD_BOTTOM);
  for (let i = 0; i <= TICKS; i++) {
    const v = v0 + (v1 - v0) * i / TICKS;
    svg.appendChild(node("line", { x1: PAD_LEFT, x2: WIDTH - PAD_RIGHT, y1: y(v), y2: y(v), class: "grid" }));
    svg.appendChild(node("text", { x: PAD_LEFT - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, number(v)));
  }
  const first = all.reduce((a, b) => (a.at <= b.at ? a : b)), last = all.reduce((a, b) => (a.at >= b.at ? a : b));
  svg.appendChild(node("text", { x: PAD_LEFT, y: HEIGHT - 8, class: "axis" }, first.day));
  if (last !== first) {
    svg.appendChild(node("text", { x: WIDTH - PAD_RIGHT, y: HEIGHT - 8, "text-anchor": "end", class: "axis" }, last.day));
  }
  series.forEach((s, index) => {
    const colour = COLOURS[index % COLOURS.length];
    const sorted = [...s.points].sort((a, b) => a.at - b.at);
    if (sorted.length > 1) {
      svg.appendChild(node("polyline", { points: sorted.map((p) => `${x(p.at.getTime())},${y(p.value)}`).join(" "),
                                         fill: "none", stroke: colour, "stroke-width": 2 }));
    }
    for (const p of sorted) {
      const dot = node("circle", { cx: x(p.at.getTime()), cy: y(p.value), r: 4, fill: colour, class: "point",
                                   "data-value": p.value, "data-series": s.label });
      dot.appendChild(node("title", {}, `${s.label} : ${number(p.value)} ${s.unit} le ${p.day}`));
      svg.appendChild(dot);
    }
  });
  return svg;
}
