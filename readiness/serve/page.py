# ruff: noqa: E501  (the page's own HTML and script, kept whole and readable)
"""The live page: one HTML file with its own style and script (no asset from the
internet: exam rooms are filtered, and the page must work on the LAN alone). It draws
/api/state and follows /events (Server-Sent Events) without reloading."""

PAGE = r"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>readiness</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:1rem;color:#222}
h1{font-size:1.3rem;margin:0 0 .5rem} h2{font-size:1.1rem;margin:1rem 0 .4rem}
.bar>span{display:inline-block;margin:0 1.2rem .2rem 0} .verdict{font-weight:bold;padding:.1rem .5rem;border-radius:3px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(5.5rem,1fr));gap:.3rem}
.seat{border:1px solid #999;border-radius:4px;padding:.3rem;text-align:center;font-size:.85rem}
.seat b,.seat span,.seat small{display:block} .seat small{font-size:.7rem;overflow-wrap:anywhere}
.pass{background:#c8e6c9}.warn{background:#ffe082}.fail{background:#e53935;color:#fff}
.error{background:#ef9a9a}.skip{background:#e0e0e0}.none{background:#fff}
/* nothing about the seat proved either way; some of its checks could not be made */
.seat.v-none{background:repeating-linear-gradient(135deg,#e3e6ea 0 6px,#f7f8fa 6px 12px);border:1px dashed #555}
.seat.v-partly{background-image:repeating-linear-gradient(135deg,rgba(0,0,0,.3) 0 3px,transparent 3px 7px);background-size:100% 5px;background-position:bottom;background-repeat:no-repeat}
.causes{font-size:.85rem;margin:.4rem 0 0;padding-left:1.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
/* fixed columns: a long URL in a finding wraps instead of widening the page past a phone's screen */
table{table-layout:fixed} #reqs th:nth-child(1){width:28%} #reqs th:nth-child(2){width:5.5rem}
#fixes th:nth-child(1){width:7rem} #fixes th:nth-child(2){width:25%}
form{margin:.6rem 0} #msg{margin-left:.6rem} #live{font-size:.85rem;max-height:10rem;overflow:auto}
</style></head>
<body>
<h1 id="title">readiness</h1>
<div class="bar"><span id="verdict"></span><span id="last"></span><span id="next"></span>
<span id="exam"></span><span id="running"></span></div>
<form id="runnow"><label>站点令牌 · site token <input type="password" id="token"
 autocomplete="off"></label> <button>立即检查 · Run now</button><span id="msg"></span></form>
<div id="rooms"></div>
<h2>要求 · Requirements</h2><table id="reqs"></table>
<h2>待修复 · Fix list</h2><table id="fixes"></table>
<h2>本次进度 · This run</h2><div id="live"></div>
<script>
"use strict";
let state = null, seatRun = {};
const SEV = {fail:4, error:3, warn:2, pass:1, skip:0};
const el = id => document.getElementById(id);
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
const both = t => t ? esc(t.zh) + " · " + esc(t.en) : "";
const word = s => s && state ? both(state.status_words[s]) : "-";
const local = iso => iso ? new Date(iso).toLocaleString() : "-";
function countdown(iso) {
  if (!iso) return "-";
  let s = Math.max(0, (new Date(iso) - Date.now()) / 1000);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return `${d}天 ${h}时 ${m}分 · ${d}d ${h}h ${m}m`;
}
function seatHtml(room, seat) {
  const fig = seat.figure_mbps == null ? "" : `${Math.round(seat.figure_mbps)} Mbit/s`;
  const why = (seat.why || []).map(esc).join(" ");
  const note = seat.answers === false ? "无应答 · no answer" : seat.verified === "none" ? "未验证 · not verified" : "";
  return `<div class="seat ${seat.status || "none"} v-${seat.verified || "none"}" id="seat-${esc(room)}-${esc(seat.label)}"` +
    ` data-room="${esc(room)}" data-label="${esc(seat.label)}" data-status="${esc(seat.status || "none")}"` +
    ` data-verified="${esc(seat.verified || "none")}" title="${esc(seat.address)} ${why}"><b>${esc(seat.label)}</b>` +
    `<span class="fig">${fig}</span><small class="note">${note}</small><small class="why">${why}</small></div>`;
}
function causeHtml(c) {
  const rules = c.rules.map(r => esc(r.requirement) + (r.aspects.length ? ` (${r.aspects.map(both).join(", ")})` : "")).join("; ");
  return `<li data-kind="${esc(c.kind)}" data-name="${esc(c.name)}"><span class="${esc(c.status)}">${word(c.status)}</span> ${both(c.who)}: ${rules}</li>`;
}
function draw() {
  const s = state;
  el("title").innerHTML = `${esc(s.site.name)} (${esc(s.site.code)})`;
  el("verdict").innerHTML = s.verdict ? `<span class="verdict ${s.verdict.value === "ready" ? "pass" : "fail"}">` +
    `${esc(s.verdict.zh)} · ${esc(s.verdict.en)}</span>` : "尚无检查 · no run yet";
  el("last").innerHTML = "上次 · last: " + (s.last_run ? local(s.last_run.finished_at) : "-");
  el("next").innerHTML = "下次 · next: " + local(s.next_run);
  el("exam").innerHTML = "距考试 · exam in: " + countdown(s.exam_start);
  el("running").innerHTML = s.running ? "<b>检查中 · running</b>" : "";
  el("rooms").innerHTML = s.rooms.map(r => `<h2>${esc(r.name || r.id)} (${esc(r.id)})</h2>` +
    `<div class="grid" data-room="${esc(r.id)}">${r.seats.map(x => seatHtml(x.room || r.id, x)).join("")}</div>` +
    (r.causes && r.causes.length ? `<ul class="causes" data-room="${esc(r.id)}">${r.causes.map(causeHtml).join("")}</ul>` : "")).join("");
  el("reqs").innerHTML = "<tr><th>要求 · rule</th><th>结论 · verdict</th><th>说明 · finding</th></tr>" +
    s.requirements.map(q => `<tr id="req-${esc(q.id)}"><td>${esc(q.id)} ${both(q.title)}</td>` +
    `<td class="${q.status || "none"}">${word(q.status)}</td><td>${both(q.message)}</td></tr>`).join("");
  el("fixes").innerHTML = "<tr><th>要求 · rule</th><th>位置 · where</th><th>怎么做 · what to do</th></tr>" +
    (s.fixes.length ? s.fixes.map(f => `<tr><td class="${esc(f.status)}">` +
    `${esc(f.requirement)}</td><td>${both(f.where)}</td><td>${both(f.message)}</td></tr>`).join("")
    : "<tr><td colspan=3>无 · nothing to fix</td></tr>");
  el("live").innerHTML = s.live.map(liveLine).join("");
}
function liveLine(c) { return `<div class="${esc(c.status)}">${esc(c.requirement)} · ${both(c.label)}: ${word(c.status)}${c.figure ? " · " + both(c.figure) : ""}</div>`; }
async function refresh() { state = await (await fetch("api/state")).json(); seatRun = {}; draw(); }
function onCheck(c) {
  if (!state) return;
  if (!state.running) { state.running = true; state.live = []; seatRun = {}; el("live").innerHTML = ""; }
  el("running").innerHTML = "<b>检查中 · running</b>";
  el("live").insertAdjacentHTML("afterbegin", liveLine(c));
  if (c.seat) {
    // this run's worst verdict per seat (its subject: room and name) and the rules giving
    // it (the last run's colour is replaced at the seat's first check of this run)
    const key = JSON.stringify([c.room, c.seat]);
    const prev = seatRun[key];
    if (prev === undefined || SEV[c.status] > SEV[prev.status]) seatRun[key] = {status: c.status, why: new Set()};
    const now = seatRun[key];
    if (c.status === now.status && SEV[c.status] >= 2) now.why.add(c.requirement);
    document.querySelectorAll(`.seat[data-room="${CSS.escape(c.room || "")}"][data-label="${CSS.escape(c.seat)}"]`).forEach(n => {
      n.className = "seat " + now.status; n.dataset.status = now.status;
      const note = n.querySelector(".note"); if (note) note.textContent = "";
      const why = n.querySelector(".why"); if (why) why.textContent = [...now.why].sort().join(" "); });
  }
  const row = el("req-" + c.requirement);
  if (row && (SEV[c.status] ?? 0) >= 3) { row.children[1].className = c.status; row.children[1].innerHTML = word(c.status); }
}
el("runnow").addEventListener("submit", async ev => {
  ev.preventDefault();
  const r = await fetch("run", {method: "POST", headers: {"Authorization": "Bearer " + el("token").value}});
  const body = await r.json(); el("msg").innerHTML = both(body.message);
});
const events = new EventSource("events");
events.addEventListener("check", e => onCheck(JSON.parse(e.data)));
events.addEventListener("state", e => { state = JSON.parse(e.data); seatRun = {}; draw(); });
setInterval(() => { if (state) el("exam").innerHTML = "距考试 · exam in: " + countdown(state.exam_start); }, 30000);
refresh();
</script></body></html>
"""
