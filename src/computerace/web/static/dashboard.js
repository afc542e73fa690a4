// computerace dashboard: state <-> URL, inputs, one /api/run per change, plotly.js charts (served locally).
// The state is the URL's query: scenario, seed, samples, set=key=value (repeatable, as the CLI's --set),
// year and compare. window.crTiming holds the last redraw's timings (read by benchmarks/bench_dashboard.py);
// document.body.dataset.renders counts completed redraws (read by the browser tests).
"use strict";

const ACTORS = ["US", "China", "RoW"];
const CHANNELS = ["domestic", "legal_import", "smuggled", "proxy_fab"];
const COLOURS = {US: "#1f5fa8", China: "#c0392b", RoW: "#6d7f8c", domestic: "#c0392b", legal_import: "#e08e45",
                 smuggled: "#7d3c98", proxy_fab: "#2e8b57", remote: "#555555"};
const CHANNEL_LABELS = {domestic: "Domestic (SMIC-made)", legal_import: "Legal imports", smuggled: "Smuggled",
                        proxy_fab: "Proxy fabs (made abroad)"};
const AXIS_LABELS = {years_behind_stock: "owned compute", years_behind_chip: "best chip",
                     years_behind_process_node: "process node", years_behind_largest_training_run: "largest training run",
                     years_behind_frontier_capability: "frontier capability", years_behind_same_node: "same node",
                     years_behind_reasoning_serving: "reasoning serving"};
const AXIS_COLOURS = ["#c0392b", "#1f5fa8", "#2e8b57", "#7d3c98", "#e08e45", "#6d7f8c", "#b8860b"];
// The limits that can bind an actor's new compute (summary.json binding_constraint), one colour each.
const CONSTRAINT_COLOURS = {wafers: "#7f8c8d", yield: "#e08e45", HBM: "#8e44ad", packaging: "#1f5fa8", power: "#c0392b",
                            budget: "#27ae60", "growth form": "#bdc3c7"};
// The modebar shows only while the pointer is over a chart, so it never hides a title.
const PLOT_CONFIG = {displaylogo: false, responsive: true, displayModeBar: "hover",
                     modeBarButtonsToRemove: ["lasso2d", "select2d"]};
const LOG_DECADES = 6;  // a log axis spans at most this many decades below the largest value drawn

const S = {scenario: "baseline", seed: 0, samples: null, year: "2030", compare: false, overrides: {}};
let INFO = null, PARAMS = null, LAST = null, BASE = null, seq = 0, controller = null, renders = 0;
let fellBack = false;  // a shared link whose view could not be drawn was replaced by the defaults
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------ formatting
function fmtNum(x) {
  if (x === null || x === undefined || !isFinite(x)) return x === Infinity ? "∞" : "—";
  const a = Math.abs(x), sign = x < 0 ? "-" : "";
  if (a < 1000) return sign + Number(a.toPrecision(3)).toString();
  for (const [s, suf] of [[1e3, "k"], [1e6, "M"], [1e9, "B"], [1e12, "T"]]) {
    const m = a / s;
    if (m < 999.5 || suf === "T") return sign + m.toFixed(m < 10 ? 2 : m < 100 ? 1 : 0) + suf;
  }
}
const fmtPct = (x) => (x === null || x === undefined) ? "—" : (100 * x).toFixed(1) + "%";
const fmtRatio = (x) => (x === null || x === undefined) ? "—" : fmtNum(x) + "×";
const fmtYears = (x) => (x === null || x === undefined) ? "—" : x.toFixed(1);
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else if (k === "class") e.className = v;
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// ------------------------------------------------------------------------------------ URL state
function readURL() {
  const q = new URLSearchParams(location.search);
  S.scenario = q.get("scenario") || "baseline";
  S.seed = parseInt(q.get("seed") || "0", 10) || 0;
  S.samples = q.has("samples") ? parseInt(q.get("samples"), 10) : null;
  S.year = q.get("year") || "2030";
  S.compare = q.get("compare") === "1";
  S.overrides = {};
  for (const s of q.getAll("set")) {
    const i = s.indexOf("=");
    if (i > 0) S.overrides[s.slice(0, i).trim()] = s.slice(i + 1).trim();
  }
}
function apiQuery(state) {
  const q = new URLSearchParams();
  q.set("scenario", state.scenario);
  q.set("seed", String(state.seed));
  q.set("samples", String(state.samples));
  for (const [k, v] of Object.entries(state.overrides)) q.append("set", `${k}=${v}`);
  return q;
}
function writeURL() {
  const q = apiQuery(S);
  q.set("year", S.year);
  if (S.compare) q.set("compare", "1");
  history.replaceState(null, "", "?" + q.toString());
}

// ------------------------------------------------------------------------------------ fetching
async function getJSON(url, signal) {
  const r = await fetch(url, {signal, headers: {Accept: "application/json"}});
  const body = await r.json().catch(() => ({detail: `HTTP ${r.status}`}));
  if (!r.ok) { const e = new Error(body.detail || `HTTP ${r.status}`); e.status = r.status; throw e; }
  return body;
}

function showError(message) {
  const box = $("error");
  document.querySelectorAll(".param.bad").forEach((p) => p.classList.remove("bad"));
  if (!message) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = "error: " + message;
  for (const key of Object.keys(S.overrides)) {
    if (message.includes(key)) document.querySelector(`.param[data-key="${CSS.escape(key)}"]`)?.classList.add("bad");
  }
}

async function refresh() {
  const t0 = performance.now();
  const token = ++seq;
  if (controller) controller.abort();
  controller = new AbortController();
  writeURL();
  const q = apiQuery(S);
  const baseState = {scenario: "baseline", seed: S.seed, samples: S.samples, overrides: {}};
  const jobs = [getJSON("/api/run?" + q, controller.signal)];
  if (S.compare) jobs.push(getJSON("/api/run?" + apiQuery(baseState), controller.signal));
  let run, base;
  try {
    [run, base] = await Promise.all(jobs);
  } catch (e) {
    if (e.name === "AbortError" || token !== seq) return;
    document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
    if (!LAST && !fellBack) { await showDefaults(e.message); return; }
    showError(e.message);
    $("status").textContent = LAST ? "The last valid view is shown; fix the input to redraw."
      : "Nothing could be drawn; fix the input above or press \"Reset every input\".";
    return;
  }
  if (token !== seq) return;
  const t1 = performance.now();
  showError(null);
  LAST = run; BASE = base || null;
  const drawing = render();
  await drawing.visible;
  await nextFrame();
  const t2 = performance.now();  // what is on screen has been redrawn and painted
  await drawing.rest();
  await nextFrame();
  const t3 = performance.now();
  window.crTiming = {total_ms: t2 - t0, all_ms: t3 - t0, fetch_ms: t1 - t0, render_ms: t2 - t1,
                     server_ms: run.server_ms, cached: run.cached, samples: run.samples};
  $("status").textContent = `${run.samples.toLocaleString("en-US")} samples · seed ${run.seed} · scenario ` +
    `${run.name} (hash ${run.scenario_hash}) · server ${run.server_ms.toFixed(0)} ms` +
    `${run.cached ? " (cached)" : ""} · redraw ${(t2 - t0).toFixed(0)} ms`;
  document.body.dataset.hash = run.scenario_hash;
  document.body.dataset.renders = String(++renders);
  loadClaims(token, q, baseState);
}

// A shared link (or a first view) that the server refuses: say why, and draw the preset's defaults
// instead of leaving the charts empty. The message stays until the next successful change.
async function showDefaults(message) {
  fellBack = true;
  S.overrides = {}; S.seed = 0; S.samples = INFO.default_samples;
  $("seed").value = S.seed; $("samples").value = S.samples;
  document.querySelectorAll(".param").forEach((r) => r.sync && r.sync());
  renderOtherOverrides();
  await refresh();
  showError(`${message}\nThis link's view could not be drawn, so the defaults of preset '${S.scenario}' are ` +
            "shown instead (seed 0, default samples, no inputs changed).");
  document.body.dataset.fallback = "1";
  $("status").textContent = `Defaults of preset '${S.scenario}' shown: the link's view could not be drawn ` +
    "(see the message above). " + $("status").textContent;
}

// ------------------------------------------------------------------------------------ controls
function paramRow(p) {
  const row = el("div", {class: "param", "data-key": p.key});
  const pins = p.pins || [];
  const slider = el("input", {type: "range", min: "0", max: String(pins.length), step: "1", value: "0",
                              "aria-label": p.key, disabled: pins.length ? null : true});
  const label = el("div", {class: "pval"});
  const text = el(p.kind === "series" ? "textarea" : "input",
                  {class: "ptext", type: p.kind === "series" ? null : "text", rows: p.kind === "series" ? "2" : null,
                   spellcheck: "false", "aria-label": `${p.key} value`});
  const reset = el("button", {type: "button", class: "reset-one", title: "back to the scenario's value", text: "↺"});
  const srcs = el("div", {class: "psrc"});
  if (p.sources.length) {
    srcs.append("source: ");
    p.sources.forEach((s, i) => {
      if (i) srcs.append(", ");
      srcs.append(s.url ? el("a", {href: s.url, target: "_blank", rel: "noopener noreferrer",
                                   title: [s.title, s.publisher, s.published].filter(Boolean).join(" · "),
                                   text: s.id}) : s.id);
      srcs.append(" ", el("a", {href: `/api/sources/${encodeURIComponent(s.id)}`, title: "catalog entry", text: "[i]"}));
    });
  }
  if (p.assumption) srcs.append(el("div", {text: "assumption: " + p.assumption}));
  row.append(
    el("div", {class: "phead"},
       el("span", {class: "pname", title: p.key}, p.name.replaceAll("_", " "), " ", el("small", {text: p.section})),
       el("span", {class: "unit", text: p.unit})),
    el("div", {class: "pdesc", text: p.description}),
    el("div", {class: "slider"}, slider, reset), label, text, srcs);

  const asScenario = `as in the scenario: ${p.summary}`;
  const sync = () => {
    const cur = S.overrides[p.key];
    const idx = cur === undefined ? 0 : pins.findIndex((x) => x.text === cur) + 1;
    slider.value = String(Math.max(idx, 0));
    text.value = cur === undefined ? p.value_text : cur;
    row.classList.toggle("overridden", cur !== undefined);
    label.textContent = cur === undefined ? asScenario
      : idx > 0 ? `pinned at its ${pins[idx - 1].percentile}th percentile` : "set by hand";
  };
  slider.addEventListener("input", () => {
    const i = Number(slider.value);
    label.textContent = i === 0 ? asScenario : `pinned at its ${pins[i - 1].percentile}th percentile`;
    text.value = i === 0 ? p.value_text : pins[i - 1].text;
  });
  slider.addEventListener("change", () => {
    const i = Number(slider.value);
    if (i === 0) delete S.overrides[p.key]; else S.overrides[p.key] = pins[i - 1].text;
    sync(); refresh();
  });
  text.addEventListener("change", () => {
    const v = text.value.trim().replace(/\s*\n\s*/g, " ");
    if (v === "" || v === p.value_text) delete S.overrides[p.key]; else S.overrides[p.key] = v;
    sync(); refresh();
  });
  reset.addEventListener("click", () => { delete S.overrides[p.key]; sync(); refresh(); });
  row.sync = sync;
  sync();
  return row;
}

function buildParams() {
  const main = $("params"), more = $("params-more");
  main.replaceChildren(); more.replaceChildren();
  for (const p of PARAMS.parameters) (p.influential ? main : more).append(paramRow(p));
  $("ordering").replaceChildren("Ordered by " + PARAMS.ordering + ".");
  if (PARAMS.ranking === "running") waitForRanking(PARAMS.scenario);
  $("preset-description").textContent = PARAMS.description;
  if (PARAMS.parameters.some((p) => !p.influential && S.overrides[p.key] !== undefined)) $("more").open = true;
  renderOtherOverrides();
}

// A sensitivity ranking is computed in the background (about a minute); when it is ready the user may
// reorder the inputs with one click (rows never move under the pointer by themselves).
function waitForRanking(preset) {
  setTimeout(async () => {
    if (!PARAMS || PARAMS.scenario !== preset) return;
    const p = await getJSON("/api/parameters?scenario=" + encodeURIComponent(preset)).catch(() => null);
    if (!p || PARAMS.scenario !== preset) return;
    if (p.ordering !== PARAMS.ordering) {
      const b = el("button", {type: "button", id: "reorder", text: "Reorder by the sensitivity ranking"});
      b.addEventListener("click", () => { PARAMS = p; buildParams(); });
      $("ordering").append(" ", b);
    } else if (p.ranking === "running" || p.ranking === "queued") {
      waitForRanking(preset);
    }
  }, 10000);
}

// Overrides with no input row (horizon.end, a parameter's ci ...): listed, removable, kept in the URL.
function renderOtherOverrides() {
  const known = new Set(PARAMS.parameters.map((p) => p.key));
  const others = Object.keys(S.overrides).filter((k) => !known.has(k));
  const box = $("other-overrides");
  box.replaceChildren(...others.map((k) => {
    const b = el("button", {type: "button", class: "reset-one", title: "remove", text: "×"});
    b.addEventListener("click", () => { delete S.overrides[k]; renderOtherOverrides(); refresh(); });
    return el("div", {class: "note"}, "also set: ", el("code", {text: `${k}=${S.overrides[k]}`}), " ", b);
  }));
}

async function loadParams() {
  PARAMS = await getJSON("/api/parameters?scenario=" + encodeURIComponent(S.scenario));
  buildParams();
}

function bindControls(presets) {
  const sel = $("preset");
  sel.replaceChildren(...presets.map((p) => el("option", {value: p.name, text: p.name, title: p.description})));
  sel.value = S.scenario;
  sel.addEventListener("change", async () => {
    S.scenario = sel.value; S.overrides = {};
    await loadParams().catch((e) => showError(e.message));
    refresh();
  });
  $("seed").value = S.seed;
  $("samples").value = S.samples;
  $("samples").max = INFO.max_samples;
  $("compare").checked = S.compare;
  $("seed").addEventListener("change", () => { S.seed = Math.max(0, parseInt($("seed").value, 10) || 0); refresh(); });
  $("samples").addEventListener("change", () => {
    S.samples = parseInt($("samples").value, 10) || INFO.default_samples; refresh();
  });
  $("compare").addEventListener("change", () => { S.compare = $("compare").checked; refresh(); });
  $("year").addEventListener("change", () => {
    S.year = $("year").value; writeURL();
    const d = render();
    d.visible.then(d.rest);
  });
  $("reset").addEventListener("click", () => {
    S.overrides = {}; S.seed = 0; S.samples = INFO.default_samples;
    $("seed").value = S.seed; $("samples").value = S.samples;
    document.querySelectorAll(".param").forEach((r) => r.sync && r.sync());
    refresh();
  });
  $("copy-link").addEventListener("click", () => navigator.clipboard?.writeText(location.href));
}

// ------------------------------------------------------------------------------------ rendering
// A median line and its 5-95% band. On a log axis zeros cannot be drawn: the median stops where it is
// zero (null) and the band is clamped to `floor`, the bottom of the axis.
function fan(x, q, colour, name, group, opts = {}) {
  const floor = opts.floor || 0;
  const clamp = (v) => (v === null ? floor : Math.max(v, floor));
  const band = {x: x.concat([...x].reverse()), y: q.p95.map(clamp).concat([...q.p5].reverse().map(clamp)),
                fill: "toself", fillcolor: colour + "2e", line: {width: 0}, hoverinfo: "skip", showlegend: false,
                legendgroup: group, name: name + " 5–95%", type: "scatter", mode: "lines"};
  const mid = {x, y: floor ? q.p50.map((v) => (v > 0 ? v : null)) : q.p50, name, legendgroup: group,
               type: "scatter", mode: "lines", line: {color: colour, width: 2.2, dash: opts.dash || "solid"},
               hovertemplate: `${name}: %{y:.3s} H100e<extra>%{x|%b %Y}</extra>`};
  return opts.bandless ? [mid] : [band, mid];
}

// Bottom of a log axis: a tenth of the smallest positive median, so bands of series that reach zero
// (a drawn-down die bank) end at the axis instead of breaking the plot; but never more than LOG_DECADES
// decades below the largest value (a median decaying towards zero would otherwise pull the axis down to
// 1e-9 H100e and squash every other line).
function logFloor(qs) {
  let lo = Infinity, hi = 0;
  for (const q of qs) {
    for (const v of q.p50) if (v > 0 && v < lo) lo = v;
    for (const v of q.p95) if (v > hi) hi = v;
  }
  if (!isFinite(lo) || hi <= 0) return {floor: 1, range: null};
  const floor = Math.max(lo / 10, hi * 10 ** -LOG_DECADES);
  return {floor, range: [Math.log10(floor), Math.log10(hi * 1.5)]};
}

function yearShape(year) {
  return [{type: "line", xref: "x", yref: "paper", x0: `${year}-12-01`, x1: `${year}-12-01`, y0: 0, y1: 1,
           line: {color: "#999", width: 1, dash: "dot"}}];
}

// Half-width charts put the title's detail on a second, smaller line and leave the top-right corner
// (where the modebar appears on hover) to the plot.
function layout(title, ytitle, extra = {}) {
  const two = title.includes("<br>");
  return Object.assign({title: {text: title, font: {size: 14}, x: 0.01, xanchor: "left", y: two ? 0.97 : 0.96,
                                yanchor: "top"},
                        margin: {l: 60, r: 10, t: two ? 58 : 40, b: 36},
                        yaxis: {title: {text: ytitle}, type: "log"},
                        legend: {orientation: "h", y: -0.12}, hovermode: "x unified",
                        paper_bgcolor: "#fff", plot_bgcolor: "#fff"}, extra);
}

function cell(metric, key, label, fmt, what) {
  const m = LAST.summary.metrics[metric]?.[key]?.[label];
  const b = BASE ? BASE.summary.metrics[metric]?.[key]?.[label] : null;
  const card = el("div", {class: "card", "data-metric": `${metric}/${key}`, "data-p50": m ? String(m.p50) : ""},
                  el("div", {class: "label", text: what}));
  if (!m) { card.append(el("div", {class: "value", text: "—"})); return card; }
  let v = fmt(m.p50);
  if (m.censored !== undefined && m.censored >= 0.5) v = "≥ " + v;
  card.append(el("div", {class: "value", text: v}),
              el("div", {class: "interval", text: `90%: ${fmt(m.p5)} – ${fmt(m.p95)}`}));
  if (m.censored !== undefined && m.censored > 0.05 && m.censored < 0.5) {
    card.append(el("div", {class: "interval", text: `${fmtPct(m.censored)} of samples: at least this`}));
  }
  if (b) card.append(el("div", {class: "base", text: `baseline: ${fmt(b.p50)} [${fmt(b.p5)} – ${fmt(b.p95)}]`}));
  return card;
}

function renderCards() {
  const label = `${S.year}-12`, pr = LAST.summary.probabilities.china_overtakes_us_stock_by || {};
  const bpr = BASE ? BASE.summary.probabilities.china_overtakes_us_stock_by : null;
  const cards = [
    cell("stock_h100e", "US", label, fmtNum, `US owned compute, Dec ${S.year} (H100e)`),
    cell("stock_h100e", "China", label, fmtNum, `China owned compute, Dec ${S.year} (H100e)`),
    cell("china_share", "China", label, fmtPct, `China's share of world compute, Dec ${S.year}`),
    cell("us_to_china_ratio", "US:China", label, fmtRatio, `US : China compute, Dec ${S.year}`),
    cell("years_behind_stock", "China", label, fmtYears, `Years China trails the US (stock), Dec ${S.year}`),
  ];
  const axes = Object.keys(LAST.summary.metrics).filter((m) => m.startsWith("years_behind_") && m !== "years_behind_stock");
  if (axes.length) {
    const c = el("div", {class: "card", "data-metric": "years_behind_axes"},
                 el("div", {class: "label", text: `Years behind on other axes, Dec ${S.year} (median)`}));
    for (const m of axes) {
      const v = LAST.summary.metrics[m].China[label];
      if (!v) continue;
      c.append(el("div", {class: "interval", "data-axis": m}, `${AXIS_LABELS[m] || m}: `,
                  el("b", {text: (v.censored >= 0.5 ? "≥ " : "") + fmtYears(v.p50)})));
    }
    cards.push(c);
  }
  const p = el("div", {class: "card", "data-metric": "china_overtakes_us_stock_by"},
               el("div", {class: "label", text: "P(China's stock passes the US's) by December of"}));
  for (const [y, v] of Object.entries(pr)) {
    p.append(el("div", {class: "interval", "data-year": y, "data-p": String(v)},
                `${y}: `, el("b", {text: fmtPct(v)}), bpr ? ` (baseline ${fmtPct(bpr[y])})` : ""));
  }
  cards.push(p);
  $("cards").replaceChildren(...cards);
}

function renderYears() {
  const sel = $("year");
  const labels = Object.keys(LAST.summary.metrics.stock_h100e.World).filter((d) => d.endsWith("-12")).map((d) => d.slice(0, 4));
  if (!labels.includes(S.year)) S.year = labels.includes("2030") ? "2030" : labels[labels.length - 1];
  if (sel.options.length !== labels.length || [...sel.options].some((o, i) => o.value !== labels[i])) {
    sel.replaceChildren(...labels.map((y) => el("option", {value: y, text: y})));
  }
  sel.value = S.year;
}

function render() {
  renderYears();
  renderCards();
  const s = LAST.series, x = s.months.map((m) => m + "-01");
  const b = BASE ? BASE.series : null;
  const l1 = logFloor(ACTORS.map((a) => s.stock_h100e[a]).concat(b ? ACTORS.map((a) => b.stock_h100e[a]) : []));
  const t1 = [];
  for (const a of ACTORS) t1.push(...fan(x, s.stock_h100e[a], COLOURS[a], a, a, {floor: l1.floor}));
  if (b) {
    for (const a of ACTORS) {
      t1.push(...fan(x, b.stock_h100e[a], COLOURS[a], `${a} (baseline)`, a, {dash: "dash", bandless: true, floor: l1.floor}));
    }
  }
  const l2 = logFloor(CHANNELS.map((c) => s.china_stock_h100e[c]).concat([s.china_remote_h100e.China]));
  const t2 = [];
  for (const c of CHANNELS) t2.push(...fan(x, s.china_stock_h100e[c], COLOURS[c], CHANNEL_LABELS[c], c, {floor: l2.floor}));
  t2.push(...fan(x, s.china_remote_h100e.China, COLOURS.remote, "Rented abroad (not owned)", "remote",
                 {dash: "dot", bandless: true, floor: l2.floor}));
  const t3 = behindTraces();
  const pr = LAST.summary.probabilities.china_overtakes_us_stock_by || {};
  const t4 = [{x: Object.keys(pr), y: Object.values(pr), type: "bar", name: "this view", marker: {color: "#c0392b"},
               text: Object.values(pr).map(fmtPct), textposition: "outside", hovertemplate: "%{y:.1%}<extra></extra>"}];
  if (BASE) {
    const b = BASE.summary.probabilities.china_overtakes_us_stock_by;
    t4.push({x: Object.keys(b), y: Object.values(b), type: "bar", name: "baseline", marker: {color: "#c9a35b"},
             text: Object.values(b).map(fmtPct), textposition: "outside"});
  }
  renderDownloads();
  const binding = (actor) => layout(`What limits ${actor}'s new compute<br><sub>share of samples</sub>`,
                                    "share of samples",
                                    {barmode: "stack", bargap: 0.1, yaxis: {range: [0, 1], tickformat: ".0%"},
                                     hovermode: "closest", shapes: yearShape(S.year)});
  const jobs = [
    ["chart-stock", t1, layout("Owned AI compute by actor (H100e; median and 90% band)", "H100e",
                               {shapes: yearShape(S.year), yaxis: {title: {text: "H100e"}, type: "log", range: l1.range}})],
    ["chart-channels", t2, layout("China's compute by acquisition channel (H100e; median and 90% band)", "H100e",
                                  {shapes: yearShape(S.year), yaxis: {title: {text: "H100e"}, type: "log", range: l2.range}})],
    ["chart-behind", t3, layout("Years China trails the US<br><sub>median; band: 90% on owned compute</sub>", "years",
                                {yaxis: {title: {text: "years behind"}, zeroline: true}, hovermode: "x unified",
                                 shapes: yearShape(S.year)})],
    ["chart-overtake", t4, layout("P(China's stock has passed the US's)<br><sub>by December of each year</sub>",
                                  "probability",
                                  {yaxis: {range: [0, 1.1], tickformat: ".0%"}, barmode: "group", hovermode: "closest",
                                   showlegend: !!BASE})],
    ["chart-binding-us", bindingTraces("US"), binding("the US")],
    ["chart-binding-china", bindingTraces("China"), binding("China")],
  ];
  const rs = LAST.summary.reasoning_serving;
  if (rs) {
    jobs.push(["chart-reasoning", reasoningTraces(LAST.summary.metrics, BASE ? BASE.summary.metrics : null),
               layout(`Capacity to serve ${rs.model} at ${Math.round(rs.tokens_per_s_per_user)} tokens/s per user` +
                      "<br><sub>tokens/s, all users; median and 90% band (docs/reasoning-serving.md)</sub>",
                      "tokens/s", {shapes: yearShape(S.year)})]);
  }
  // Charts on screen first; the others right after the next paint (all of them before `renders` counts).
  const draw = (job) => Plotly.react(job[0], job[1], job[2], PLOT_CONFIG);
  const first = jobs.filter((j) => ON_SCREEN.size === 0 || ON_SCREEN.has(j[0]));
  const rest = jobs.filter((j) => !first.includes(j));
  return {visible: Promise.all(first.map(draw)), rest: () => Promise.all(rest.map(draw))};
}

const ON_SCREEN = new Set();  // ids of the charts now in the viewport
function watchCharts() {
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) (e.isIntersecting ? ON_SCREEN.add(e.target.id) : ON_SCREEN.delete(e.target.id));
  });
  for (const id of ["chart-stock", "chart-channels", "chart-behind", "chart-overtake", "chart-binding-us",
                    "chart-binding-china", "chart-reasoning"]) io.observe($(id));
}
const nextFrame = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));

// Stacked bars: per year, the share of samples in which each limit bound the actor's acquisitions
// (power, budget, or the supply step: CoWoS packaging or HBM for Western chips; wafers, yield, HBM or packaging
// for China's domestic chips). Constraints that never bind are left out.
function bindingTraces(actor) {
  const b = (LAST.summary.binding_constraint || {})[actor] || {};
  const years = Object.keys(b);
  return Object.keys(CONSTRAINT_COLOURS)
    .filter((c) => years.some((y) => b[y][c] > 0))
    .map((c) => ({x: years.map((y) => `${y}-07-01`), y: years.map((y) => b[y][c]), type: "bar", name: c,
                  marker: {color: CONSTRAINT_COLOURS[c]}, hovertemplate: `${c}: %{y:.0%}<extra></extra>`}));
}

// Years behind on every axis the summary has (years_behind_<axis>): the stock axis with its 90% band,
// the others as median lines; hollow markers where most samples are censored (a lower bound).
function behindTraces() {
  const out = [];
  const axes = Object.keys(LAST.summary.metrics).filter((m) => m.startsWith("years_behind_"));
  axes.sort((a, b) => (a === "years_behind_stock" ? -1 : b === "years_behind_stock" ? 1 : 0));
  axes.forEach((m, i) => {
    const yb = LAST.summary.metrics[m].China, yd = Object.keys(yb), x = yd.map((d) => d + "-01");
    const q = (k) => yd.map((d) => yb[d][k]);
    const colour = AXIS_COLOURS[i % AXIS_COLOURS.length], name = AXIS_LABELS[m] || m.slice(13).replaceAll("_", " ");
    if (m === "years_behind_stock") {
      out.push({x: x.concat([...x].reverse()), y: q("p95").concat(q("p5").reverse()), fill: "toself",
                fillcolor: colour + "2e", line: {width: 0}, hoverinfo: "skip", showlegend: false, type: "scatter"});
    }
    out.push({x, y: q("p50"), name, type: "scatter", mode: "lines+markers", line: {color: colour, width: i ? 1.5 : 2.2},
              marker: {size: i ? 4 : 6, symbol: yd.map((d) => (yb[d].censored >= 0.5 ? "circle-open" : "circle"))},
              customdata: yd.map((d) => yb[d].censored || 0),
              hovertemplate: `${name}: %{y:.2f} y (censored in %{customdata:.0%})<extra></extra>`});
    if (BASE && BASE.summary.metrics[m]) {
      const b = BASE.summary.metrics[m].China;
      out.push({x, y: yd.map((d) => b[d]?.p50), name: `${name} (baseline)`, type: "scatter", mode: "lines",
                line: {color: colour, dash: "dash", width: 1.3}});
    }
  });
  return out;
}

// Reasoning-serving capacity by actor at each year's end (summary.json's reasoning_serving_tokens_per_s metric):
// median and 90% band; the baseline's medians dashed when comparing.
function reasoningTraces(metrics, baseMetrics) {
  const out = [];
  const rs = metrics.reasoning_serving_tokens_per_s || {};
  const base = baseMetrics ? baseMetrics.reasoning_serving_tokens_per_s : null;
  for (const a of ACTORS) {
    const series = rs[a];
    if (!series) continue;
    const yrs = Object.keys(series), x = yrs.map((y) => `${y}-01`);
    const q = {p5: yrs.map((y) => series[y].p5), p50: yrs.map((y) => series[y].p50),
               p95: yrs.map((y) => series[y].p95)};
    const pos = (v) => Math.max(v, 1e-6);
    out.push({x: x.concat([...x].reverse()), y: q.p95.map(pos).concat([...q.p5].reverse().map(pos)), fill: "toself",
              fillcolor: COLOURS[a] + "2e", line: {width: 0}, hoverinfo: "skip", showlegend: false, legendgroup: a,
              type: "scatter", mode: "lines"});
    out.push({x, y: q.p50.map((v) => (v > 0 ? v : null)), name: a, legendgroup: a, type: "scatter", mode: "lines",
              line: {color: COLOURS[a], width: 2.2}, hovertemplate: `${a}: %{y:.3s} tokens/s<extra>%{x|%Y}</extra>`});
    if (base && base[a]) {
      out.push({x, y: yrs.map((y) => base[a][y]?.p50), name: `${a} (baseline)`, legendgroup: a,
                type: "scatter", mode: "lines", line: {color: COLOURS[a], dash: "dash", width: 1.3}});
    }
  }
  return out;
}

function renderDownloads() {
  const d = LAST.downloads;
  $("dl-summary").href = d["summary.json"];
  $("dl-csv").href = d["quantiles.csv"];
  $("dl-yaml").href = d["scenario.yaml"];
  $("reproduce").textContent = LAST.reproduce;
}

// Claims are scored only while their table is on screen, after the charts are drawn and the view has
// settled: scoring simulates the view again (plus a counterfactual preset), which would otherwise compete
// with the next redraw.
let claimsVisible = false, claimsShown = null;
function loadClaims(token, q, baseState) {
  setTimeout(() => {
    const key = q.toString() + (S.compare ? "&compare" : "");
    if (token !== seq || !claimsVisible || claimsShown === key) return;
    claimsShown = key;
    showClaims(token, q, baseState);
  }, 400);
}
function watchClaims() {
  new IntersectionObserver((entries) => {
    claimsVisible = entries.some((e) => e.isIntersecting);
    if (claimsVisible && LAST) {
      loadClaims(seq, apiQuery(S), {scenario: "baseline", seed: S.seed, samples: S.samples, overrides: {}});
    }
  }).observe($("claims"));
}

// A probability of exactly 0 or 1 is shown with the claims module's note (it does not happen in any sample).
function fmtClaimP(p) {
  if (p === null || p === undefined) return "—";
  if (p === 0 || p === 1) return (100 * p).toFixed(0) + "%";
  if (p < 0.001) return "<0.1%";
  if (p > 0.999) return ">99.9%";
  return fmtPct(p);
}
function readingCell(rd, labelled) {
  const op = rd.operationalisation || {};
  const kids = [];
  if (labelled) kids.push(el("b", {text: (rd.id || "") + ": "}));
  kids.push(document.createTextNode(rd.reading || ""));
  if (op.metric) {
    kids.push(el("br"), el("span", {class: "note", text: `measured as ${[].concat(op.metric).join(", ")} ` +
                                    `${op.threshold} at ${[].concat(op.date).join(", ")}: ${op.basis}`}));
  }
  if (rd.note) kids.push(el("br"), el("span", {class: "note claim-note", text: rd.note}));
  return el("span", {}, ...kids);
}
function driversCell(rd) {
  const ds = rd.drivers || [];
  if (!ds.length) return el("span", {class: "note", text: rd.driver || "does not vary in this run"});
  return el("span", {class: "drivers"}, ...ds.flatMap((d, i) => [i ? el("br") : null,
    el("code", {text: d.input}), document.createTextNode(" "),
    el("b", {text: (d.delta >= 0 ? "+" : "") + d.delta.toFixed(2)}),
    el("span", {class: "note", text: ` (${fmtPct(d.p_bottom)} → ${fmtPct(d.p_top)})`})]));
}
// The swept probability as a small inline SVG (P from 0 at the bottom to 1 at the top; the dot is the claim's
// own threshold); its title lists the values.
function sparkline(sw, note) {
  if (!sw || !sw.points || sw.points.length < 2) return el("span", {class: "note", text: note || ""});
  const NS = "http://www.w3.org/2000/svg", W = 120, H = 34, pad = 3;
  const pts = sw.points.filter((p) => p[1] !== null && isFinite(p[1]));
  const xs = pts.map((p) => p[0]), lo = Math.min(...xs), span = (Math.max(...xs) - lo) || 1;
  const sx = (x) => pad + (x - lo) / span * (W - 2 * pad), sy = (p) => H - pad - p * (H - 2 * pad);
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const svg = mk("svg", {class: "spark", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img"});
  const title = mk("title", {});
  title.textContent = sw.label + ": " + pts.map((p) => `${Number(p[0].toPrecision(3))} → ${fmtPct(p[1])}`).join(", ");
  svg.append(title, mk("line", {x1: pad, y1: sy(0), x2: W - pad, y2: sy(0), stroke: "#ddd"}),
             mk("polyline", {points: pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "),
                             fill: "none", stroke: "#1f5fa8", "stroke-width": 1.5}));
  if (sw.claim_x !== null && sw.claim_x !== undefined) {
    const near = pts.reduce((a, p) => Math.abs(p[0] - sw.claim_x) < Math.abs(a[0] - sw.claim_x) ? p : a, pts[0]);
    svg.append(mk("circle", {cx: sx(near[0]).toFixed(1), cy: sy(near[1]).toFixed(1), r: 2.6, fill: "#c0392b"}));
  }
  return svg;
}

async function showClaims(token, q, baseState) {
  const body = $("claims-body");
  try {
    const jobs = [getJSON("/api/claims?" + q)];
    if (S.compare) jobs.push(getJSON("/api/claims?" + apiQuery(baseState)));
    const [c, b] = await Promise.all(jobs);
    if (token !== seq) return;
    if (!c.available) {
      body.replaceChildren(el("p", {class: "note", text: "The claims table appears here once the claims module " +
                                    "is installed (" + c.reason + ")."}));
      return;
    }
    const base = b && b.available ? Object.fromEntries(b.claims.map((x) => [x.id, x.probability])) : null;
    const head = el("tr", {}, el("th", {text: "claim"}), el("th", {text: "P(true)"}),
                    base ? el("th", {text: "baseline"}) : null, el("th", {text: "read as"}),
                    el("th", {text: "threshold swept"}), el("th", {text: "moves it most (top − bottom decile)"}),
                    el("th", {text: "source"}));
    const rows = [];
    for (const x of c.claims) {
      const readings = x.readings && x.readings.length ? x.readings : [x];
      readings.forEach((rd, i) => {
        const first = i === 0;
        const attrs = first ? {"data-claim": x.id || "", "data-p": String(x.probability)}
                            : {class: "reading", "data-reading": (x.id || "") + "/" + (rd.id || "")};
        const scored = rd.status !== "not-scored" && rd.probability !== null && rd.probability !== undefined;
        rows.push(el("tr", attrs,
          el("td", {title: x.quote || ""}, first ? (x.claim || x.id || "") : ""),
          el("td", {class: "num", text: scored ? fmtClaimP(rd.probability) : "not scored"}),
          base ? el("td", {class: "num", text: first ? fmtClaimP(base[x.id]) : ""}) : null,
          el("td", {}, readingCell(rd, readings.length > 1)),
          el("td", {}, scored ? sparkline(rd.sweep, rd.sweep_note) : ""),
          el("td", {}, scored ? driversCell(rd) : el("span", {class: "note", text: "not scored: " + (rd.reason || "")})),
          el("td", {}, first ? (x.source_url ? el("a", {href: x.source_url, target: "_blank", rel: "noopener noreferrer",
                                                        title: x.source_title || "", text: x.source})
                                             : (x.source || "no published source found")) : "")));
      });
    }
    for (const x of c.not_scored || []) {
      rows.push(el("tr", {class: "not-scored", "data-not-scored": x.id || ""},
        el("td", {title: x.quote || ""}, x.claim || x.id || ""), el("td", {class: "num", text: "not scored"}),
        base ? el("td", {}) : null, el("td", {text: x.reading || ""}),
        el("td", {colspan: "2", class: "note", text: "not scored: " + (x.reason || "")}),
        el("td", {text: x.source || "no published source found"})));
    }
    body.replaceChildren(el("p", {class: "note", text: `Share of the ${c.samples.toLocaleString("en-US")} ` +
                                  "samples in which each claim, as defined in data/claims.yaml, holds; where the " +
                                  "debate's words admit several readings each is scored. The curve is P with the " +
                                  "claim's threshold swept around its own (dot). 'Moves it most': P(claim | input " +
                                  "in its top 10%) − P(claim | input in its bottom 10%). Hover a claim for its quote."}),
                         el("table", {class: "claims"}, head, ...rows));
    document.body.dataset.claims = c.scenario_hash;
  } catch (e) {
    claimsShown = null;
    if (token === seq) body.replaceChildren(el("p", {class: "note", text: "Claims unavailable: " + e.message}));
  }
}

// ------------------------------------------------------------------------------------ start
async function main() {
  readURL();
  const [info, presets] = await Promise.all([getJSON("/api/info"), getJSON("/api/presets")]);
  INFO = info;
  if (!S.samples) S.samples = info.default_samples;
  if (!presets.presets.some((p) => p.name === S.scenario)) S.scenario = "baseline";
  bindControls(presets.presets);
  watchClaims();
  watchCharts();
  await loadParams();
  await refresh();
}

main().catch((e) => { showError(e.message); $("status").textContent = "The dashboard could not start."; });


// Scenario discovery: on request only (PRIM takes a few seconds), for the view on screen.
async function showDiscover() {
  const body = $("discover-body");
  const outcome = $("discover-outcome").value;
  body.replaceChildren(el("p", {class: "note", text: "Searching…"}));
  try {
    const q = apiQuery(S);
    q.set("outcome", outcome);
    const d = await getJSON("/api/discover?" + q);
    const parts = [el("p", {text: d.statement})];
    for (const b of d.boxes || []) {
      parts.push(el("p", {class: "note", text: "Box " + b.number + ": coverage " + (100 * b.coverage).toFixed(0) + "%, density " + (100 * b.density).toFixed(0) + "%, mass " + (100 * b.mass).toFixed(0) + "%"}));
      const rows = (b.dimensions || []).map((l) => el("tr", {}, el("td", {text: l.name}), el("td", {text: l.words})));
      parts.push(el("table", {class: "claims"}, el("tr", {}, el("th", {text: "input"}), el("th", {text: "limit"})),
                    ...rows));
    }
    body.replaceChildren(...parts);
    if (d.figure) Plotly.react("chart-discover", d.figure.data, d.figure.layout, {displayModeBar: "hover"});
  } catch (err) {
    body.replaceChildren(el("p", {class: "error", text: String(err.message || err)}));
  }
}
function wireDiscover() {
  const go = $("discover-go");
  if (go) go.addEventListener("click", showDiscover);
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wireDiscover);
else wireDiscover();
