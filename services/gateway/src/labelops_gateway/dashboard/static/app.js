// labelops dashboard: polls /v1/dashboard/summary, follows /v1/events/stream (SSE), draws SVG.
// No third-party code: the gateway serves it offline.
"use strict";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#3566d6", "#e8833a", "#2e9e5b", "#c0392b", "#8e44ad", "#16a2b8"];
let eventsSeen = []; // {at, type} of the last minute

function el(tag, attrs = {}, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function empty(node, what) {
  node.replaceChildren(el("p", { class: "empty" }, `no ${what} yet`));
}

function fmt(x, digits = 2) {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(digits);
}

// Grouped horizontal bars: rows [{label, values: [..]}], series names.
function bars(node, rows, series, { max, digits = 2 } = {}) {
  if (!rows.length) return empty(node, "data");
  const rowH = 16 * series.length + 8, left = 170, width = 380, height = rows.length * rowH + 24;
  const top = max ?? Math.max(1e-9, ...rows.flatMap((r) => r.values.filter((v) => v != null)));
  const svg = el("svg:svg", { width: left + width + 60, height, role: "img" });
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    svg.append(el("svg:text", { x: 0, y: y + rowH / 2 + 3 }, r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label));
    r.values.forEach((v, j) => {
      const w = v == null ? 0 : Math.max(1, (width * Math.max(0, v)) / top);
      svg.append(el("svg:rect", { x: left, y: y + j * 16, width: w, height: 13, fill: COLORS[j % COLORS.length], "data-value": v ?? "" }));
      svg.append(el("svg:text", { x: left + w + 4, y: y + j * 16 + 11 }, fmt(v, digits)));
    });
  });
  series.forEach((s, j) => {
    svg.append(el("svg:rect", { x: left + j * 130, y: height - 14, width: 10, height: 10, fill: COLORS[j % COLORS.length] }));
    svg.append(el("svg:text", { x: left + j * 130 + 14, y: height - 5 }, s));
  });
  node.replaceChildren(svg);
}

// Line chart of points [{x, y}].
function line(node, points, { xLabel, yLabel }) {
  if (!points.length) return empty(node, "model versions");
  const W = 520, H = 200, L = 40, B = 30;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - 10);
  const sy = (y) => H - B - y * (H - B - 10);
  const svg = el("svg:svg", { width: W, height: H, role: "img" });
  svg.append(el("svg:line", { x1: L, y1: H - B, x2: W, y2: H - B, stroke: "#999" }));
  svg.append(el("svg:line", { x1: L, y1: 0, x2: L, y2: H - B, stroke: "#999" }));
  for (const t of [0, 0.5, 1]) svg.append(el("svg:text", { x: 4, y: sy(t) + 4 }, fmt(t, 1)));
  svg.append(el("svg:text", { x: W / 2, y: H - 6 }, xLabel));
  svg.append(el("svg:text", { x: L + 4, y: 12 }, yLabel));
  svg.append(el("svg:polyline", { points: points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), fill: "none", stroke: COLORS[0], "stroke-width": 2 }));
  for (const p of points) {
    svg.append(el("svg:circle", { cx: sx(p.x), cy: sy(p.y), r: 4, fill: COLORS[0], "data-value": p.y }));
    svg.append(el("svg:text", { x: sx(p.x) - 8, y: sy(p.y) - 8 }, `${p.x}`));
  }
  node.replaceChildren(svg);
}

function table(node, header, rows, what) {
  if (!rows.length) return empty(node, what);
  const t = el("table");
  const tr = el("tr");
  header.forEach((h) => tr.append(el("th", {}, h)));
  t.append(tr);
  for (const r of rows) {
    const row = el("tr");
    for (const c of r) {
      const td = el("td");
      if (c instanceof Node) td.append(c); else td.textContent = c;
      row.append(td);
    }
    t.append(row);
  }
  node.replaceChildren(t);
}

function tiles(s) {
  const items = [
    ["labels / min (live)", eventsSeen.filter((e) => e.type.endsWith("LabelSubmitted")).length],
    ["tasks labeled", s.throughput?.tasks_total != null ? `${s.throughput.tasks_labeled} / ${s.throughput.tasks_total}` : "–"],
    ["agreement α", fmt(s.agreement?.alpha)],
    ["open tasks", s.queues?.reduce((a, q) => a + (q.queued || 0) + (q.in_progress || 0), 0) ?? "–"],
    ["dataset versions", s.versions?.length ?? 0],
    ["events / min (live)", eventsSeen.length],
  ];
  $("tiles").replaceChildren(...items.map(([k, v]) => {
    const t = el("div", { class: "tile", "data-kpi": k });
    t.append(el("b", {}, String(v)), el("span", { class: "muted" }, k));
    return t;
  }));
}

function render(s) {
  tiles(s);
  bars($("queues"), (s.queues || []).map((q) => ({ label: `${q.pool_id} (${q.kind || "?"})${q.no_eligible_annotator ? ` ⚠ ${q.no_eligible_annotator} with no eligible annotator` : ""}`, values: [q.queued || 0, q.in_progress || 0] })), ["queued", "in progress"], { digits: 0 });
  bars($("agreement"), (s.agreement?.per_class || []).map((c) => ({ label: c.class_id, values: [c.alpha] })), ["alpha"], { max: 1 });
  table($("annotators"), ["annotator", "pool", "gold answers", "accuracy", "drift"],
    (s.annotators || []).map((a) => [a.annotator_id, a.pool_id || "", String(a.gold_answers ?? 0), fmt(a.gold_accuracy),
      el("span", { class: `badge ${a.drift ? "bad" : "ok"}` }, a.drift ? "drifting" : "stable")]), "annotators");
  bars($("roi"), (s.prelabel_roi || []).map((c) => ({ label: `${c.class_id}${c.enabled ? "" : " (off)"}`, values: [c.median_prelabeled_s ?? null, c.median_scratch_s ?? null] })), ["with pre-label", "from scratch"], { digits: 1 });
  line($("model"), (s.model || []).filter((m) => m.accuracy != null).map((m) => ({ x: m.trained_on, y: m.accuracy })), { xLabel: "labels", yLabel: "held-out accuracy" });
  const diff = s.diff ? ` · diff v${s.diff.from_version}→v${s.diff.to_version}: +${s.diff.added} -${s.diff.removed} ~${s.diff.changed}` : "";
  table($("versions"), ["version", "rows", "labels", "manifest"],
    (s.versions || []).map((v) => [String(v.version), String(v.rows), String(v.labels), (v.manifest_sha256 || "").slice(0, 12)]), "dataset versions");
  if (diff) $("versions").append(el("p", { class: "diff" }, diff));
  $("status").textContent = `updated ${new Date().toLocaleTimeString()}` +
    (s.errors?.length ? ` · partial: ${s.errors.join("; ")}` : "");
  document.body.dataset.loaded = "true";
}

// The key never travels in a URL (access logs, history) nor stays where scripts read it: the
// login form posts it once, the gateway answers with an HttpOnly, SameSite=Strict cookie that
// every same-origin request below carries.
function loggedOut(yes) {
  $("login").hidden = !yes;
  $("logout").hidden = yes;
}

async function refresh() {
  const q = new URLSearchParams();
  if ($("project").value) q.set("project_id", $("project").value);
  if ($("dataset").value) q.set("dataset_id", $("dataset").value);
  try {
    const r = await fetch(`/v1/dashboard/summary?${q}`, { credentials: "same-origin" });
    if (r.status === 401) {
      loggedOut(true);
      throw new Error("log in with an API key");
    }
    if (!r.ok) throw new Error(`${r.status} ${(await r.text()).slice(0, 200)}`);
    loggedOut(false);
    render(await r.json());
  } catch (e) {
    $("status").textContent = `error: ${e.message}`;
  }
}

async function login(e) {
  e.preventDefault();
  const r = await fetch("/v1/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ api_key: $("api-key").value }),
  });
  $("api-key").value = "";
  if (!r.ok) {
    $("status").textContent = `login failed: ${r.status}`;
    return;
  }
  loggedOut(false);
  refresh();
}

async function logout() {
  await fetch("/v1/session", { method: "DELETE", credentials: "same-origin" });
  loggedOut(true);
}

// A key in the URL is refused: drop it from the address bar (and what older pages stored).
if (params.has("key")) {
  params.delete("key");
  history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
  $("status").textContent = "keys in the URL are not accepted: log in instead";
}
localStorage.removeItem("labelops-key");

// Read the SSE stream through fetch (the cookie goes along; so does a retry loop of our own).
async function follow() {
  const shown = new Set(["labelops.routing.v1.LabelSubmitted", "labelops.qa.v1.LabelAccepted",
    "labelops.qa.v1.ConsensusReached", "labelops.prelabel.v1.PreLabelProposed",
    "labelops.datasets.v1.DatasetVersionCreated"]);
  for (;;) {
    try {
      const r = await fetch("/v1/events/stream", { credentials: "same-origin" });
      if (!r.ok || !r.body) throw new Error(String(r.status));
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let type = "", data = "";
          for (const l of block.split("\n")) {
            if (l.startsWith("event:")) type = l.slice(6).trim();
            else if (l.startsWith("data:")) data += l.slice(5).trim();
          }
          if (type && shown.has(type)) onEvent(type, data);
        }
      }
    } catch (e) {
      $("status").textContent = `event stream: ${e.message}; retrying`;
    }
    await new Promise((res) => setTimeout(res, 3000));
  }
}

function onEvent(type, data) {
  const now = Date.now();
  eventsSeen.push({ at: now, type });
  eventsSeen = eventsSeen.filter((e) => now - e.at < 60000);
  const li = el("li", {}, `${new Date(now).toLocaleTimeString()} ${type.split(".").pop()} ${data.slice(0, 160)}`);
  $("feed").prepend(li);
  while ($("feed").children.length > 50) $("feed").lastChild.remove();
}

$("project").value = params.get("project") || "";
$("dataset").value = params.get("dataset") || "";
$("pick").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
$("login").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
refresh();
setInterval(refresh, 5000);
follow();
