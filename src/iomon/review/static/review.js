/* iomon review page: trends, sweeps and edits of one case. Every edit is sent to the server,
 * which writes it to the case sidecar and reanalyses; the page then redraws from its answer.
 * No network beyond this page's own server: uPlot is served from the package. */
"use strict";

const TOKEN = document.querySelector('meta[name="iomon-token"]').content;
const COLORS = { valid: "#1f5fa8", control: "#2e8b57", rejected: "#9aa3ae", excluded: "#c0392b",
  base: "#9aa3ae", detected: "#1f5fa8", manual: "#e67e22", alert: "#c0392b",
  systemic: "#7d3c98", event: "#222", rebaseline: "#1f5fa8", cursor: "#e67e22",
  lesioning: "rgba(230,126,34,0.13)", setup: "rgba(120,120,120,0.10)", window: "rgba(31,95,168,0.06)" };
const UNITS = { amplitude: "%", onset: "ms", peak: "ms", threshold: "V" };

const S = { state: null, sweep: 0, channel: 0, metric: "amplitude", mode: null, sweepData: null,
  trends: [], traces: [], detail: null, syncing: false, xRange: null, busy: false };
window.iomonReview = S;  // for tests and the benchmark: the page's state and timings

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const init = { headers: { "X-Iomon-Token": TOKEN } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function esc(text) {
  const div = document.createElement("div");
  div.textContent = text == null ? "" : String(text);
  return div.innerHTML;
}

function fmt(value, digits, unit) {
  return value == null ? "–" : value.toFixed(digits) + (unit ? " " + unit : "");
}

/* ------------------------------------------------------------------ time */
/* A synthetic case's times are shown on the surgical clock it stands for (time_scale: its
   time compression), as its report shows them; the file's seconds stay the data's. */
function clockText(seconds) {
  const start = S.state.start_clock_s;
  let t = Math.round(seconds * (S.state.time_scale || 1)) + (start == null ? 0 : start);
  if (start != null) t = ((t % 86400) + 86400) % 86400;
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

function parseClock(text) {
  const parts = text.trim().split(":").map(Number);
  if (!parts.length || parts.some((p) => !Number.isFinite(p))) return null;
  while (parts.length < 3) parts.push(0);
  let t = parts[0] * 3600 + parts[1] * 60 + parts[2];
  const start = S.state.start_clock_s;
  if (start != null) t = (((t - start) % 86400) + 86400) % 86400;
  return t / (S.state.time_scale || 1);
}

/* ------------------------------------------------------------------ trends */
function trendData(c) {
  const st = S.state, x = st.sweeps.onset_s, values = st.trends[S.metric] ? st.trends[S.metric][c] : null;
  const code = st.status[c];
  const valid = [], rejected = [], excluded = [];
  for (let i = 0; i < x.length; i++) {
    const v = values ? values[i] : null;
    valid.push(code[i] === "0" ? v : null);
    rejected.push(code[i] === "1" ? v : null);
    excluded.push(code[i] === "2" ? v : null);
  }
  return [x, valid, rejected, excluded];
}

function yRange(u, min, max) {
  if (S.metric === "amplitude") return [0, Math.max(150, Math.min(300, (max || 0) * 1.05))];
  if (min == null || max == null) return [0, 1];
  const pad = Math.max((max - min) * 0.1, S.metric === "threshold" ? 20 : 1);
  return [Math.max(0, min - pad), max + pad];
}

function drawTrendDecor(u, c) {
  const st = S.state, ctx = u.ctx, { left, top, width, height } = u.bbox;
  const px = (t) => u.valToPos(t, "x", true);
  ctx.save();
  ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
  for (const p of st.phases) {
    if (p.name !== "lesioning") continue;
    ctx.fillStyle = COLORS.lesioning;
    ctx.fillRect(px(p.start_s), top, px(p.end_s) - px(p.start_s), height);
  }
  const name = st.channels[c].name;
  for (const a of st.alerts) {
    if (a.channel !== name) continue;
    ctx.fillStyle = a.scope === "systemic" ? COLORS.systemic : COLORS.alert;
    ctx.globalAlpha = a.informational ? 0.35 : 0.85;
    const x0 = px(a.onset_s), x1 = Math.max(px(a.end_s), x0 + 3);
    ctx.fillRect(x0, top + height - 5 * devicePixelRatio, x1 - x0, 5 * devicePixelRatio);
  }
  ctx.globalAlpha = 1;
  if (S.metric === "amplitude") {
    ctx.strokeStyle = "#b8c0cc"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
    for (const level of [100, 50]) {
      const y = u.valToPos(level, "y", true);
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
    }
  }
  ctx.setLineDash([2, 3]); ctx.strokeStyle = COLORS.event;
  for (const e of st.events) {
    const x = px(e.at_s);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
    ctx.fillStyle = COLORS.event; ctx.font = `${10 * devicePixelRatio}px sans-serif`;
    ctx.fillText(String(e.n), x + 2, top + 10 * devicePixelRatio);
  }
  ctx.strokeStyle = COLORS.rebaseline; ctx.setLineDash([6, 3]);
  for (const r of st.rebaselines) {
    const x = px(r.at_s);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
  }
  ctx.setLineDash([]); ctx.strokeStyle = COLORS.cursor; ctx.lineWidth = 1.5 * devicePixelRatio;
  const x = px(st.sweeps.onset_s[S.sweep]);
  ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
  ctx.restore();
}

function trendOptions(c, width) {
  const role = S.state.channels[c].role;
  const stroke = role === "control" ? COLORS.control : COLORS.valid;
  const last = c === S.state.channels.length - 1;
  return {
    width, height: trendHeight() + (last ? 22 : 0), legend: { show: false },
    padding: [4, 18, last ? null : 0, 0],  // the same right margin for all: time axes line up
    scales: { x: { time: false }, y: { range: yRange } },
    cursor: { sync: { key: "trend" }, drag: { x: true, y: false }, points: { show: false } },
    axes: [
      { show: last, size: 22, values: (u, splits) => splits.map(clockText), font: "11px sans-serif" },
      { size: 38, font: "10px sans-serif", ticks: { size: 3 }, splits: (u) => {
        const [a, b] = [u.scales.y.min, u.scales.y.max];
        if (S.metric === "amplitude") return [0, 100].filter((v) => v <= b);
        return [a + (b - a) * 0.25, a + (b - a) * 0.75].map((v) => Math.round(v));
      } },
    ],
    series: [
      {},
      { stroke, width: 1.2, spanGaps: true, points: { show: (u, si, i0, i1) => i1 - i0 < 300, size: 4, fill: stroke } },
      { stroke: COLORS.rejected, paths: () => null, points: { show: true, size: 5, stroke: COLORS.rejected, fill: "#fff" } },
      { stroke: COLORS.excluded, paths: () => null, points: { show: true, size: 5, stroke: COLORS.excluded, fill: "#fff", width: 1.5 } },
    ],
    hooks: {
      draw: [(u) => drawTrendDecor(u, c)],
      setScale: [(u, key) => {
        if (key !== "x" || S.syncing) return;
        S.syncing = true;
        S.xRange = [u.scales.x.min, u.scales.x.max];
        for (const other of S.trends) if (other !== u) other.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
        S.syncing = false;
      }],
    },
  };
}

function trendHeight() {
  // The trends share the column's height (the review station's screen), within limits.
  const free = $("trends").clientHeight - $("trend-list").offsetTop - 52;
  return Math.max(46, Math.min(120, Math.floor(free / S.state.channels.length)));
}

function buildTrends() {
  const list = $("trend-list");
  list.innerHTML = "";
  S.trends.forEach((u) => u.destroy());
  S.trends = [];
  const width = list.clientWidth - 4;
  S.state.channels.forEach((ch, c) => {
    const box = document.createElement("div");
    box.className = "trend" + (ch.baseline_present ? "" : " absent");
    box.dataset.channel = c;
    box.innerHTML = `<span class="name">${esc(ch.name)} <span class="role">${esc(ch.role === "test" ? "at risk" : ch.role || "")}</span></span>`;
    list.appendChild(box);
    const u = new uPlot(trendOptions(c, width), trendData(c), box);
    let down = null;
    u.over.addEventListener("mousedown", (e) => { down = [e.clientX, e.clientY]; });
    u.over.addEventListener("click", (e) => {
      leaveInputs();
      if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return;
      const t = u.posToVal(e.offsetX, "x");
      select(nearestSweep(t), c);
    });
    S.trends.push(u);
  });
  markSelected();
  const legend = [["valid", S.state.channels.some((c) => c.role === "control") ? "at risk" : "valid"],
    ["control", "control"], ["rejected", "rejected (hollow)"], ["excluded", "excluded (red ring)"],
    ["lesioning", "lesioning"], ["alert", "focal alert"], ["systemic", "systemic"], ["cursor", "this sweep"]];
  // Swatches coloured through the DOM: the page's CSP allows no inline style attributes.
  const box = $("trend-legend");
  box.innerHTML = "";
  for (const [k, text] of legend) {
    const item = document.createElement("span"), swatch = document.createElement("i");
    swatch.style.background = COLORS[k];
    item.append(swatch, text);
    box.appendChild(item);
  }
  const lines = document.createElement("span");
  lines.textContent = "┆ theatre event (numbered) · ╌ re-baseline";
  box.appendChild(lines);
}

function nearestSweep(t) {
  const x = S.state.sweeps.onset_s;
  let lo = 0, hi = x.length - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (x[mid] < t) lo = mid; else hi = mid; }
  return Math.abs(x[lo] - t) <= Math.abs(x[hi] - t) ? lo : hi;
}

function refreshTrends() {
  S.trends.forEach((u, c) => {
    u.setData(trendData(c), false);
    if (S.xRange) { S.syncing = true; u.setScale("x", { min: S.xRange[0], max: S.xRange[1] }); S.syncing = false; }
    else u.redraw(true, true);
  });
}

/* ------------------------------------------------------------------ sweep traces */
function times() {
  const t = S.state.times, out = new Array(t.n);
  for (let i = 0; i < t.n; i++) out[i] = t.first_ms + i * t.step_ms;
  return out;
}

function markers(u, c, big) {
  const ch = S.sweepData && S.sweepData.channels[c];
  if (!ch) return;
  const ctx = u.ctx, { top, height, left, width } = u.bbox, dpr = devicePixelRatio;
  const win = S.state.channels[c].window_ms;
  ctx.save();
  ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
  if (win[0] != null) {
    ctx.fillStyle = COLORS.window;
    const a = u.valToPos(win[0], "x", true), b = u.valToPos(win[1], "x", true);
    ctx.fillRect(a, top, b - a, height);
  }
  let row = 0;
  const line = (ms, color, dash, label) => {
    if (ms == null) return;
    const x = u.valToPos(ms, "x", true);
    ctx.strokeStyle = color; ctx.setLineDash(dash); ctx.lineWidth = (big ? 1.5 : 1) * dpr;
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
    if (big) {  // labels on rows of their own, so that close markers stay legible
      ctx.fillStyle = color; ctx.font = `${11 * dpr}px sans-serif`;
      ctx.fillText(label, x + 3 * dpr, top + (12 + 13 * row++) * dpr);
    }
  };
  const manual = ch.manual || {};
  const overridden = (k) => manual[k] != null;
  line(ch.detected.onset_ms, COLORS.detected, overridden("onset_ms") ? [2, 3] : [5, 3], overridden("onset_ms") ? "detected" : "onset");
  line(ch.detected.peak_ms, COLORS.detected, [1, 3], overridden("peak_ms") ? "detected peak" : "peak");
  line(manual.onset_ms, COLORS.manual, [], "onset (manual)");
  line(manual.peak_ms, COLORS.manual, [4, 2], "peak (manual)");
  ctx.restore();
}

function traceOptions(c, width, height, big) {
  return {
    width, height, legend: { show: false },
    scales: { x: { time: false } },
    cursor: { drag: { x: big, y: false }, points: { show: false }, y: false },
    axes: [{ size: big ? 26 : 16, font: "10px sans-serif", ticks: { size: 2 }, label: big ? "ms after the stimulus" : null, labelSize: big ? 14 : 0 },
      { size: big ? 44 : 34, font: "10px sans-serif", ticks: { size: 2 }, label: big ? "µV" : null, labelSize: big ? 12 : 0 }],
    series: [{}, { stroke: COLORS.base, width: 1, label: "baseline" },
      { stroke: "#1d2430", width: big ? 1.4 : 1, label: "sweep" }],
    hooks: { draw: [(u) => markers(u, c, big)] },
  };
}

function buildTraces() {
  const box = $("traces");
  box.innerHTML = "";
  S.traces.forEach((u) => u.destroy());
  S.traces = [];
  const width = Math.floor(box.clientWidth / 2) - 10;
  const empty = [times(), [], []];
  S.state.channels.forEach((ch, c) => {
    const cell = document.createElement("div");
    cell.className = "trace";
    cell.dataset.channel = c;
    cell.innerHTML = `<div class="label"><b>${esc(ch.name)}</b><span class="value"></span></div>`;
    box.appendChild(cell);
    S.traces.push(new uPlot(traceOptions(c, width, 74, false), empty, cell));
    cell.addEventListener("click", () => { leaveInputs(); select(S.sweep, c); });
  });
  if (S.detail) S.detail.destroy();
  S.detail = new uPlot(traceOptions(-1, $("detail").clientWidth - 4, 250, true), empty, $("detail"));
  S.detail.hooks.draw = [(u) => markers(u, S.channel, true)];
  S.detail.over.addEventListener("click", placeMarker);
}

function renderSweep() {
  const d = S.sweepData, st = S.state;
  if (!d) return;
  const t = times(), n = S.sweep;
  $("sweep-title").textContent = `Sweep ${n} of ${st.sweeps.onset_s.length - 1}`;
  const intensity = st.sweeps.intensity[n];
  $("sweep-facts").textContent = [st.sweeps.clock[n], st.sweeps.phase[n] + (st.sweeps.setup[n] ? " (setup)" : ""),
    intensity == null ? null : `${intensity} ${st.sweeps.unit[n]}`, d.montage || null,
    `baseline: ${d.baseline.reason}`].filter(Boolean).join(" · ");
  d.channels.forEach((ch, c) => {
    const u = S.traces[c];
    u.setData([t, ch.base || t.map(() => null), ch.data]);
    const cell = u.root.parentNode;
    cell.classList.toggle("rejected", ch.rejected);
    cell.classList.toggle("manual", !!ch.manual);
    cell.querySelector(".value").textContent = ch.rejected ? ch.reason
      : ch.present ? `${fmt(ch.amplitude_uv, 0, "µV")} · ${fmt(ch.percent, 0, "%")} · ${fmt(ch.onset_ms, 1, "ms")}`
      : `no response (${fmt(ch.amplitude_uv, 0, "µV")})`;
  });
  renderDetail();
  loadStack();
}

function renderDetail() {
  const d = S.sweepData, c = S.channel, ch = d.channels[c], meta = S.state.channels[c];
  $("detail-title").textContent = `${meta.name} · sweep ${S.sweep}` + (ch.base_sweep != null ? ` (grey: baseline sweep ${ch.base_sweep})` : "");
  const t = times();
  const keep = S.detail.scales.x.min != null && S.detailChannel === c ? [S.detail.scales.x.min, S.detail.scales.x.max] : null;
  S.detail.setData([t, ch.base || t.map(() => null), ch.data]);
  if (keep) S.detail.setScale("x", { min: keep[0], max: keep[1] });
  S.detailChannel = c;
  const manual = ch.manual || {};
  const cell = (value, key, digits) => manual[key] != null
    ? `<span class="manual-value">${fmt(manual[key], digits, "ms")}</span> <span class="muted">(detected ${fmt(ch.detected[key], digits, "ms")})</span>`
    : fmt(value, digits, "ms");
  $("measures").innerHTML =
    `<tr><th>amplitude</th><td>${fmt(ch.amplitude_uv, 1, "µV")}</td><th>% of baseline</th><td>${fmt(ch.percent, 1, "%")}</td></tr>` +
    `<tr><th>onset</th><td>${cell(ch.onset_ms, "onset_ms", 2)}</td><th>peak</th><td>${cell(ch.peak_ms, "peak_ms", 2)}</td></tr>` +
    `<tr><th>duration</th><td>${fmt(ch.duration_ms, 1, "ms")}</td><th>phases</th><td>${ch.n_phases == null ? "–" : ch.n_phases}</td></tr>` +
    `<tr><th>status</th><td colspan="3">${ch.rejected ? esc(ch.reason) : ch.present ? "response present" : "no response"}</td></tr>`;
}

/* ------------------------------------------------------------------ stacked sweeps */
async function loadStack() {
  const c = S.channel, n = S.sweep;
  const data = await api(`/api/stack?channel=${c}&last=${n}&count=30`);
  if (c !== S.channel || n !== S.sweep) return;
  drawStack(data);
}

function drawStack(data) {
  const canvas = $("stack"), dpr = devicePixelRatio;
  const width = canvas.clientWidth, rows = data.sweeps.length;
  const height = Math.max(160, Math.min(520, rows * 16 + 30));
  canvas.width = width * dpr; canvas.height = height * dpr; canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, width, height);
  $("stack-title").textContent = `Stacked sweeps: ${S.state.channels[data.channel].name}, last ${rows} to sweep ${S.sweep}`;
  const t = times(), left = 84, right = width - 6, spanT = t[t.length - 1] - t[0];
  let peak = 1;
  for (const s of data.sweeps) if (!s.rejected) for (const v of s.data) if (v != null) peak = Math.max(peak, Math.abs(v));
  const step = (height - 24) / Math.max(rows, 1), gain = step * 1.6 / peak;
  const xOf = (ms) => left + (ms - t[0]) / spanT * (right - left);
  ctx.font = "10px sans-serif";
  data.sweeps.forEach((s, k) => {
    const base = 12 + step * (k + 0.5);
    const current = s.sweep === S.sweep;
    ctx.fillStyle = current ? COLORS.manual : s.rejected ? COLORS.rejected : "#5d6878";
    ctx.fillText(`${s.sweep}  ${s.clock}`, 2, base + 3);
    ctx.strokeStyle = current ? COLORS.manual : s.rejected ? COLORS.rejected : "#1d2430";
    ctx.lineWidth = current ? 1.6 : 0.8;
    ctx.beginPath();
    // A rejected sweep (cautery, say) is clipped to two rows so it hides none of the others.
    const limit = step * 2;
    s.data.forEach((v, i) => {
      const x = xOf(t[i]), y = base - Math.max(-limit, Math.min(limit, (v || 0) * gain));
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  });
  ctx.fillStyle = "#5d6878";
  for (let ms = Math.ceil(t[0] / 10) * 10; ms <= t[t.length - 1]; ms += 10) ctx.fillText(String(ms), xOf(ms) - 6, height - 2);
  ctx.fillText("ms", right - 14, height - 12);
}

/* ------------------------------------------------------------------ selection */
function markSelected() {
  document.querySelectorAll(".trend").forEach((el) => el.classList.toggle("selected", Number(el.dataset.channel) === S.channel));
  document.querySelectorAll(".trace").forEach((el) => el.classList.toggle("selected", Number(el.dataset.channel) === S.channel));
}

let loading = 0;
async function select(sweep, channel) {
  const n = S.state.sweeps.onset_s.length;
  S.sweep = Math.max(0, Math.min(n - 1, sweep));
  S.channel = Math.max(0, Math.min(S.state.channels.length - 1, channel));
  markSelected();
  S.trends.forEach((u) => u.redraw(false, false));
  const ticket = ++loading;
  const data = await api(`/api/sweep/${S.sweep}`);
  if (ticket !== loading) return;
  S.sweepData = data;
  renderSweep();
  document.body.dataset.sweep = S.sweep;
  document.body.dataset.channel = S.channel;
}

/* ------------------------------------------------------------------ side panel */
function renderSide() {
  const st = S.state;
  $("case-title").textContent = `${st.case_id} · ${st.recording}` + (st.synthetic ? ` · ${st.synthetic}` : "");
  $("criteria").textContent = `criteria ${st.criteria}`;
  $("conclusion").innerHTML = st.conclusion.map((p) => `<p>${esc(p)}</p>`).join("");
  $("alerts-heading").textContent = st.alerts_heading;
  const t = st.alerts_table;
  $("alerts").innerHTML = `<thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
    t.rows.map((r, i) => `<tr class="${esc(t.styles[i] || "")}">${r.map((v) => `<td>${esc(v)}</td>`).join("")}</tr>`).join("") + "</tbody>";
  $("header").innerHTML = st.header.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  $("notes").innerHTML = st.notes.map((n) => `<li>${esc(n)}</li>`).join("");
  $("sidecar-name").textContent = st.sidecar.split("/").pop();
  $("log").innerHTML = st.log.length ? st.log.map((e) => `<li data-table="${esc(e.table)}">${esc(e.text)} <span class="who">${esc(e.reviewer || "")}, ${esc(String(e.time).slice(11, 19))}</span></li>`).join("")
    : `<li class="muted">none yet</li>`;
  $("undo").disabled = !st.log.some((e) => e.table !== "signoff");
  document.body.dataset.version = st.version;
  const threshold = $("metric").querySelector("option[value=threshold]");
  threshold.disabled = !st.trends.threshold;
  threshold.title = st.trends.threshold ? "" : "not tracked: the intensity never varies in volts";
  if (!$("event-kind").options.length) $("event-kind").innerHTML = st.event_kinds.map((k) => `<option>${esc(k)}</option>`).join("");
}

/* ------------------------------------------------------------------ edits */
function reviewer() {
  const input = $("reviewer"), name = input.value.trim();
  input.classList.toggle("missing", !name);
  if (!name) { status("say who you are (Reviewer, top bar) before editing", true); input.focus(); }
  else localStorage.setItem("iomon-reviewer", name);
  return name;
}

async function send(path, body, what) {
  if (S.busy) return null;
  S.busy = true;
  document.body.dataset.busy = "1";
  const started = performance.now();
  status(`${what}…`);
  try {
    const answer = await api(path, body);
    S.state = answer.state;
    renderSide();
    refreshTrends();
    S.sweepData = await api(`/api/sweep/${S.sweep}`);
    renderSweep();
    S.lastUpdateMs = performance.now() - started;
    status(`${what}: saved to ${S.state.sidecar.split("/").pop()} · updated in ${Math.round(S.lastUpdateMs)} ms`);
    return answer;
  } catch (err) {
    status(`${what} refused: ${err.message}`, true);
    return null;
  } finally {
    S.busy = false;
    document.body.dataset.busy = "0";
  }
}

async function edit(kind, entry, what) {
  const who = reviewer();
  if (!who) return null;
  return send("/api/edit", { kind, entry, reviewer: who }, what);
}

function excludeEntry() {
  const st = S.state, scope = $("exclude-scope").value, channel = st.channels[S.channel].name;
  const reason = $("exclude-reason").value.trim();
  const onset = st.sweeps.onset_s;
  if (scope === "sweep-channel") return { channel, sweep: [S.sweep], reason };
  if (scope === "sweep-all") return { sweep: [S.sweep], reason };
  if (scope === "channel-from") return { channel, from_s: onset[S.sweep], reason };
  if (scope === "channel") return { channel, reason };
  const a = Number($("exclude-from").value), b = Number($("exclude-to").value);
  const [lo, hi] = [Math.min(a, b), Math.max(a, b)].map((k) => Math.max(0, Math.min(onset.length - 1, k)));
  const entry = { from_s: onset[lo], to_s: onset[hi], reason };
  if (scope === "range-channel") entry.channel = channel;
  return entry;
}

function setMode(mode) {
  S.mode = S.mode === mode ? null : mode;
  $("mode-onset").classList.toggle("active", S.mode === "onset");
  $("mode-peak").classList.toggle("active", S.mode === "peak");
  $("detail").classList.toggle("placing", !!S.mode);
  $("mode-hint").textContent = S.mode ? `click the trace where the ${S.mode} is (Esc: cancel)` : "";
}

function leaveInputs() {
  // uPlot keeps the focus where it was on a click in a chart: give the keys back to the page.
  const active = document.activeElement;
  if (active && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName)) active.blur();
}

async function placeMarker(e) {
  leaveInputs();
  if (!S.mode) return;
  const ms = S.detail.posToVal(e.offsetX, "x");
  const key = S.mode === "onset" ? "onset_ms" : "peak_ms";
  const entry = { channel: S.state.channels[S.channel].name, sweep: S.sweep, [key]: Math.round(ms * 100) / 100 };
  const mode = S.mode;
  setMode(null);
  await edit("landmark", entry, `${mode} placed at ${entry[key].toFixed(2)} ms`);
}

function wire() {
  $("reviewer").value = localStorage.getItem("iomon-reviewer") || "";
  $("metric").addEventListener("change", (e) => { S.metric = e.target.value; refreshTrends(); });
  $("prev").addEventListener("click", () => select(S.sweep - 1, S.channel));
  $("next").addEventListener("click", () => select(S.sweep + 1, S.channel));
  $("mode-onset").addEventListener("click", () => setMode("onset"));
  $("mode-peak").addEventListener("click", () => setMode("peak"));
  $("exclude-scope").addEventListener("change", (e) => {
    const range = e.target.value.startsWith("range");
    $("exclude-range").hidden = !range;
    if (range && $("exclude-from").value === "") { $("exclude-from").value = S.sweep; $("exclude-to").value = S.sweep; }
  });
  $("exclude-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const entry = excludeEntry();
    if (await edit("exclude", entry, "excluded")) $("exclude-reason").value = "";
  });
  $("event-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const typed = $("event-time").value.trim();
    const at = typed ? parseClock(typed) : S.state.sweeps.onset_s[S.sweep];
    if (at == null) { status("the time must be hh:mm:ss", true); return; }
    const entry = { at_s: Math.round(at * 1000) / 1000, text: $("event-text").value.trim(), kind: $("event-kind").value };
    if (await edit("event", entry, "event added")) { $("event-text").value = ""; $("event-time").value = ""; }
  });
  $("rebaseline-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const entry = { at_s: S.state.sweeps.onset_s[S.sweep], reason: $("rebaseline-reason").value.trim() };
    if (await edit("rebaseline", entry, "re-baselined")) $("rebaseline-reason").value = "";
  });
  $("undo").addEventListener("click", () => send("/api/undo", {}, "undone"));
  $("signoff").addEventListener("click", async () => {
    const who = reviewer();
    if (!who) return;
    if (!confirm(`Sign off as ${who}? The report and tables are written to ${S.state.out}.`)) return;
    const answer = await send("/api/signoff", { reviewer: who }, "signing off (writing the report)");
    if (answer) status(`signed off by ${who}: report in ${answer.out}`);
  });
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if ((e.ctrlKey || e.metaKey) && e.key === "z" && !typing) { e.preventDefault(); $("undo").click(); return; }
    if (typing) { if (e.key === "Escape") document.activeElement.blur(); return; }
    const step = e.shiftKey ? 10 : 1;
    const keys = {
      ArrowLeft: () => select(S.sweep - step, S.channel), ArrowRight: () => select(S.sweep + step, S.channel),
      ArrowUp: () => select(S.sweep, S.channel - 1), ArrowDown: () => select(S.sweep, S.channel + 1),
      Home: () => select(0, S.channel), End: () => select(S.state.sweeps.onset_s.length - 1, S.channel),
      o: () => setMode("onset"), p: () => setMode("peak"), Escape: () => setMode(null),
      x: () => $("exclude-reason").focus(), e: () => $("event-text").focus(),
    };
    const action = keys[e.key];
    if (action) { e.preventDefault(); action(); }
  });
  // Back from another window (an editor with the sidecar open, say): show what it holds now.
  window.addEventListener("focus", async () => {
    if (S.busy) return;
    try {
      const state = await api("/api/state");
      if (state.version === S.state.version) return;
      S.state = state;
      renderSide();
      refreshTrends();
      S.sweepData = await api(`/api/sweep/${S.sweep}`);
      renderSweep();
      status("the sidecar changed on disk: reanalysed");
    } catch (err) {
      status(`the sidecar cannot be read: ${err.message}`, true);
    }
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { buildTrends(); buildTraces(); renderSweep(); }, 200);
  });
}

async function start() {
  const started = performance.now();
  try {
    S.state = await api("/api/state");
  } catch (err) {
    status(`cannot load the case: ${err.message}`, true);
    return;
  }
  renderSide();
  buildTrends();
  buildTraces();
  wire();
  const firstAlert = S.state.alerts.find((a) => !a.informational);
  await select(firstAlert ? firstAlert.onset_sweep : 0,
    firstAlert ? S.state.channels.findIndex((c) => c.name === firstAlert.channel) : 0);
  S.loadMs = performance.now() - started;
  status(`${S.state.sweeps.onset_s.length} sweeps, ${S.state.channels.length} channels · loaded in ${Math.round(S.loadMs)} ms`);
  document.body.dataset.busy = "0";
  document.body.dataset.ready = "1";
}

// For the tests and benchmarks/review_speed.py: the page's own actions.
Object.assign(S, { select, edit, send, refreshTrends });
start();
