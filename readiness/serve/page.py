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
<p id="trust"></p>
<form id="runnow"><label>“立即检查”令牌 · run-now token <input type="password" id="token"
 autocomplete="off"></label> <button id="runbtn">立即检查 · Run now</button><span id="msg"></span></form>
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
    `${esc(s.verdict.zh)} · ${esc(s.verdict.en)}</span>` : s.problem ? `<span class="verdict fail">未验证 · NOT VERIFIED</span>` : "尚无检查 · no run yet";
  // a run the signed log does not back: say why in words, and what the store claims
  el("trust").innerHTML = s.problem ? both(s.problem) : s.trust && s.trust.status !== "verified" ?
    both(s.trust.why) + (s.stored_verdict ? ` (结果库记为 · the store says: ${both(s.stored_verdict)})` : "") : "";
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
// "Run now" is signed here, in the browser, with the token typed above: HMAC-SHA256 over
// the same lines an agent's request is signed with (readiness/agent/auth.py), so the token
// never crosses the network and a captured request cannot be sent again. Plain script
// (FIPS 180-4, RFC 2104), because WebCrypto's crypto.subtle exists only on pages served
// over TLS or from localhost, and staff open this one by the proctor PC's plain address.
const K = new Uint32Array([0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
  0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb,
  0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624,
  0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb,
  0xbef9a3f7, 0xc67178f2]);
const ror = (x, n) => (x >>> n) | (x << (32 - n));
function sha256(data) {
  const blocks = new Uint8Array(((data.length + 9 + 63) >> 6) << 6);
  blocks.set(data); blocks[data.length] = 0x80;
  const view = new DataView(blocks.buffer);
  view.setUint32(blocks.length - 8, Math.floor(data.length / 0x20000000));  // length in bits, high word
  view.setUint32(blocks.length - 4, (data.length * 8) >>> 0);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
    0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  for (let at = 0; at < blocks.length; at += 64) {
    for (let t = 0; t < 16; t++) W[t] = view.getUint32(at + 4 * t);
    for (let t = 16; t < 64; t++) {
      const s0 = ror(W[t - 15], 7) ^ ror(W[t - 15], 18) ^ (W[t - 15] >>> 3);
      const s1 = ror(W[t - 2], 17) ^ ror(W[t - 2], 19) ^ (W[t - 2] >>> 10);
      W[t] = W[t - 16] + s0 + W[t - 7] + s1;  // a Uint32Array keeps it modulo 2^32
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let t = 0; t < 64; t++) {
      const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + W[t]) >>> 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    [a, b, c, d, e, f, g, h].forEach((v, i) => { H[i] += v; });
  }
  const out = new Uint8Array(32), outView = new DataView(out.buffer);
  H.forEach((v, i) => outView.setUint32(4 * i, v));
  return out;
}
function hmacSha256(key, message) {
  if (key.length > 64) key = sha256(key);
  const inner = new Uint8Array(64 + message.length), outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) { inner[i] = (key[i] || 0) ^ 0x36; outer[i] = (key[i] || 0) ^ 0x5c; }
  inner.set(message, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}
const utf8 = s => new TextEncoder().encode(s);
const hex = bytes => Array.from(bytes, x => x.toString(16).padStart(2, "0")).join("");
let skew = 0;  // the service's clock minus this PC's, learnt from a refusal
function runNowHeaders(token, info, stamp, nonce) {
  const lines = [info.scheme, info.audience, "POST", info.path, String(stamp), nonce,
                 hex(sha256(new Uint8Array(0)))].join("\n");
  return {"X-Readiness-Time": String(stamp), "X-Readiness-Nonce": nonce,
          "X-Readiness-Agent": info.audience, "X-Readiness-Signature": hex(hmacSha256(utf8(token), utf8(lines)))};
}
async function runNow(token) {
  const info = state.run_now;
  for (let attempt = 0; ; attempt++) {
    const stamp = Math.floor(Date.now() / 1000) + skew;
    const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
    const r = await fetch("run", {method: "POST", headers: runNowHeaders(token, info, stamp, nonce)});
    const body = await r.json();
    // this PC's clock is off (or the service just restarted): sign once more with the service's time
    if (attempt === 0 && (body.error === "expired" || body.error === "future") && body.server_time) {
      skew = body.server_time - Math.floor(Date.now() / 1000);
      continue;
    }
    return body;
  }
}
el("runnow").addEventListener("submit", async ev => {
  ev.preventDefault();
  if (!state || !state.run_now || !state.run_now.enabled) {
    el("msg").innerHTML = "“立即检查”未启用（站点文件 serve.run_now_token）· run now is off (serve.run_now_token of the site file)";
    return;
  }
  const body = await runNow(el("token").value);
  el("msg").innerHTML = both(body.message);
});
const events = new EventSource("events");
events.addEventListener("check", e => onCheck(JSON.parse(e.data)));
events.addEventListener("state", e => { state = JSON.parse(e.data); seatRun = {}; draw(); });
setInterval(() => { if (state) el("exam").innerHTML = "距考试 · exam in: " + countdown(state.exam_start); }, 30000);
refresh();
</script></body></html>
"""
