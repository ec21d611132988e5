# ruff: noqa: E501  (the page's own HTML and script, kept whole and readable)
"""The live page: one HTML file with its own style and script (no asset from the
internet: exam rooms are filtered, and the page must work on the LAN alone). It draws
/api/state and follows /events (Server-Sent Events) without reloading.

What people need first comes first: the verdict, then the numbered fix list (the same
words as the console and the report, readiness/fixlist.py), then the seat plan; on a
wide screen the fix list and the seat plan stand side by side. Times are the site's, as
the service formats them (never the browser's zone). A tapped seat shows its own lines
of the fix list (a phone has no tooltip)."""

PAGE = r"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>readiness</title>
<style>
*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:.6rem;color:#222;font-size:15px}
h1{font-size:1.15rem;margin:0 0 .3rem} h2{font-size:1.05rem;margin:.8rem 0 .3rem}
.top{display:flex;flex-wrap:wrap;gap:.2rem .9rem;align-items:baseline;font-size:.9rem}
.verdict{font-weight:bold;font-size:1.05rem;padding:.1rem .5rem;border-radius:3px}
.strip{display:flex;gap:2px;margin:.35rem 0 .1rem;flex-wrap:wrap}
.strip a{display:block;width:9px;height:18px;border-radius:2px}
.strip a.ready{background:#2f9e44}.strip a.not_ready{background:#e53935}.strip a.unverified{background:#f0a020}
.strip a.unsigned{opacity:.45} .strip a.latest{outline:2px solid #222;outline-offset:1px}
.progress{font-weight:bold}
.layout{display:block}
@media (min-width:1000px){.layout{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.2rem}}
ol.fixes{margin:.2rem 0;padding-left:0;list-style:none}
ol.fixes li{border-left:5px solid #999;padding:.25rem .5rem;margin:.3rem 0;background:#fafafa}
ol.fixes li.s-fail{border-color:#e53935}ol.fixes li.s-error{border-color:#8250df}ol.fixes li.s-warn{border-color:#f0a020}
.badge{padding:0 .3rem;border-radius:3px;font-size:.8rem;margin-right:.3rem}
ol.fixes li.hit{background:#fff3c4}
.fix .n{font-weight:bold;margin-right:.3rem}.fix .where{font-weight:bold}.fix .do{font-weight:bold}
.fix .figure{font-size:.85rem;color:#333;overflow-wrap:anywhere}.fix .rules{font-size:.78rem;color:#666}
.sec{font-size:.85rem;color:#666} .sec .do,.sec .where{font-weight:normal}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(4.6rem,1fr));gap:.3rem}
.seat{border:1px solid #999;border-radius:4px;padding:.3rem;text-align:center;font-size:.85rem;cursor:pointer}
.seat b,.seat span,.seat small{display:block} .seat small{font-size:.7rem;overflow-wrap:anywhere}
.seat.picked{outline:3px solid #1d4ed8;outline-offset:1px}
.pass{background:#c8e6c9}.warn{background:#ffe082}.fail{background:#e53935;color:#fff}
.error{background:#ef9a9a}.skip{background:#e0e0e0}.none{background:#fff}
/* nothing about the seat proved either way; some of its checks could not be made */
.seat.v-none{background:repeating-linear-gradient(135deg,#e3e6ea 0 6px,#f7f8fa 6px 12px);border:1px dashed #555}
.seat.v-partly{background-image:repeating-linear-gradient(135deg,rgba(0,0,0,.3) 0 3px,transparent 3px 7px);background-size:100% 5px;background-position:bottom;background-repeat:no-repeat}
#seatinfo{border:1px solid #1d4ed8;border-radius:4px;padding:.4rem .6rem;margin:.4rem 0;font-size:.9rem}
#seatinfo:empty{display:none}
.causes{font-size:.85rem;margin:.4rem 0 0;padding-left:1.2rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;table-layout:fixed}
td,th{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
#reqs th:nth-child(1){width:30%} #reqs th:nth-child(2){width:5.5rem}
form{margin:.6rem 0} #msg{margin-left:.6rem} #live{font-size:.85rem;max-height:10rem;overflow:auto}
a{color:#1d4ed8}
</style></head>
<body>
<h1 id="title">readiness</h1>
<div class="top"><span id="verdict"></span><span id="signed"></span><span id="running"></span></div>
<div class="top"><span id="exam"></span><span id="last"></span><span id="next"></span><a id="report" href="report"></a></div>
<div class="strip" id="strip" aria-label="最近检查 · last runs"></div>
<div class="layout">
<div><h2>待修复 · Fix list</h2><ol class="fixes" id="fixes"></ol></div>
<div><h2>考位图 · Seat plan</h2><div id="seatinfo"></div><div id="rooms"></div></div>
</div>
<h2>要求 · Requirements</h2><table id="reqs"></table>
<h2>本次进度 · This run</h2><div id="live"></div>
<form id="runnow"><label>“立即检查”令牌 · run-now token <input type="password" id="token"
 autocomplete="off"></label> <button id="runbtn">立即检查 · Run now</button><span id="msg"></span></form>
<script>
"use strict";
let state = null, seatRun = {}, picked = null;
const SEV = {fail:4, error:3, warn:2, pass:1, skip:0};
const el = id => document.getElementById(id);
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
const both = t => t ? (t.zh === t.en ? esc(t.zh) : esc(t.zh) + " · " + esc(t.en)) : "";
const word = s => s && state ? both(state.status_words[s]) : "-";
function countdown(iso) {
  let s = Math.max(0, (new Date(iso) - Date.now()) / 1000);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return `${d}天 ${h}时 ${m}分 · ${d}d ${h}h ${m}m`;
}
function examHtml(s) {
  if (!s.exam_start) return both(s.exam.why);
  const name = s.exam.name ? esc(s.exam.name) + " " : "";
  return `考试 · exam ${name}${esc(s.local.exam_start)} · 还有 · in ${countdown(s.exam_start)}`;
}
function seatHtml(room, seat) {
  const fig = seat.figure_mbps == null ? "" : `${Math.round(seat.figure_mbps)} Mbit/s`;
  const why = (seat.why || []).map(esc).join(" ");
  const note = seat.answers === false ? "无应答 · no answer" : seat.verified === "none" ? "未验证 · not verified" : "";
  return `<div class="seat ${seat.status || "none"} v-${seat.verified || "none"}" id="seat-${esc(room)}-${esc(seat.label)}"` +
    ` data-room="${esc(room)}" data-label="${esc(seat.label)}" data-status="${esc(seat.status || "none")}"` +
    ` data-address="${esc(seat.address)}" data-verified="${esc(seat.verified || "none")}" title="${esc(seat.address)} ${why}"><b>${esc(seat.label)}</b>` +
    `<span class="fig">${fig}</span><small class="note">${note}</small><small class="why">${why}</small></div>`;
}
function causeHtml(c) {
  const rules = c.rules.map(r => esc(r.requirement) + (r.aspects.length ? ` (${r.aspects.map(both).join(", ")})` : "")).join("; ");
  return `<li data-kind="${esc(c.kind)}" data-name="${esc(c.name)}"><span class="${esc(c.status)}">${word(c.status)}</span> ${both(c.who)}: ${rules}</li>`;
}
// a fix item as the console and the report say it: where and what to do, then the figure
function fixHtml(f) {
  const lang = l => `<span class="${l}" lang="${l === "zh" ? "zh-CN" : "en"}">`;
  const one = l => `${lang(l)}<span class="where">${esc(f.where[l])}</span>${l === "zh" ? "：" : ": "}` +
    `<span class="do">${esc(f.do[l])}</span></span>`;
  return `<li class="fix s-${esc(f.status)}" id="fix-${f.n}" data-n="${f.n}" data-status="${esc(f.status)}" data-seats="${esc(JSON.stringify(f.seats))}">` +
    `<span class="n">${f.n}.</span><span class="badge ${esc(f.status)}">${word(f.status)}</span> ${one("zh")}` +
    `<div class="sec">${one("en")}</div>` +
    `<div class="figure">${esc(f.figure.zh)}${f.figure.zh === f.figure.en ? "" : " · " + esc(f.figure.en)}</div>` +
    `<div class="rules">${f.requirements.map(esc).join(" · ")} — ${both(f.rules)}</div></li>`;
}
function trustHtml(s) {
  // a stored run the signed log contradicts is not shown: only why
  if (s.problem) return `<span class="verdict fail" id="trust" data-status="mismatch">未验证 · NOT VERIFIED</span> ${both(s.problem)}`;
  if (s.trust && s.trust.status) {
    const ok = s.trust.status === "verified";
    return `<span class="verdict ${ok ? "pass" : "fail"}" id="trust" data-status="${esc(s.trust.status)}">` +
      (ok ? "已签名 · signed" : s.trust.status === "mismatch" ? "与签名不符 · does not match its signature" : "未签名 · NOT signed") +
      `</span>${s.trust.why ? " " + both(s.trust.why) : ""}` +
      (s.stored_verdict ? ` (结果库记为 · the store says: ${both(s.stored_verdict)})` : "");
  }
  if (s.signed == null) return "";
  return s.signed ? '<span class="verdict pass">已签名 · signed</span>' : '<span class="verdict fail">未签名 · NOT signed</span>';
}
function progressHtml(s) {
  if (!s.running) return "";
  const p = s.progress || {};
  const n = p.total ? `${p.done} / ${p.total}` : `${p.done || 0}`;
  return `<span class="progress">检查中 · running ${n}</span>`;
}
function stripHtml(s) {
  return s.runs.map((r, i) => `<a class="${esc(r.verdict)}${r.signed === false ? " unsigned" : ""}${i === s.runs.length - 1 ? " latest" : ""}"` +
    ` data-run="${r.run_id}" title="#${r.run_id} ${esc(r.at)} ${both(r.verdict_words)}${r.signed === false ? " · 未签名 NOT signed" : ""}"></a>`).join("");
}
function showSeat(room, label) {
  picked = [room, label];
  document.querySelectorAll(".seat.picked").forEach(n => n.classList.remove("picked"));
  const node = document.querySelector(`.seat[data-room="${CSS.escape(room)}"][data-label="${CSS.escape(label)}"]`);
  if (node) node.classList.add("picked");
  const lines = state.fixes.filter(f => f.seats.some(([r, n]) => r === room && n === label));
  document.querySelectorAll("ol.fixes li").forEach(li => li.classList.toggle("hit", lines.some(f => String(f.n) === li.dataset.n)));
  el("seatinfo").innerHTML = `<b>${esc(label)}</b> ${esc(node ? node.dataset.address : "")}: ` +
    (lines.length ? lines.map(f => `<div><a href="#fix-${f.n}">${f.n}.</a> ${word(f.status)} ${esc(f.do.zh)} · ${esc(f.do.en)}` +
      `<div class="figure">${esc(f.figure.zh)}</div></div>`).join("") : "无待修复 · nothing to fix");
}
function draw() {
  const s = state;
  el("title").innerHTML = `${esc(s.site.name)} (${esc(s.site.code)})`;
  el("verdict").innerHTML = s.verdict ? `<span class="verdict ${s.verdict.value === "ready" ? "pass" : "fail"}">` +
    `${esc(s.verdict.zh)} · ${esc(s.verdict.en)}</span>` : s.problem ? `<span class="verdict fail">未验证 · NOT VERIFIED</span>` : "尚无检查 · no run yet";
  el("signed").innerHTML = trustHtml(s);
  el("last").innerHTML = "上次 · last: " + (s.last_run ? esc(s.last_run.local) : "-");
  el("next").innerHTML = "下次 · next: " + (s.next_run ? esc(s.local.next_run) : both(s.next_why));
  el("exam").innerHTML = examHtml(s);
  el("report").textContent = s.report ? "报告 · report" : "";
  el("running").innerHTML = progressHtml(s);
  el("strip").innerHTML = stripHtml(s);
  el("rooms").innerHTML = s.rooms.map(r => `<h2>${esc(r.name || r.id)} (${esc(r.id)})</h2>` +
    `<div class="grid" data-room="${esc(r.id)}">${r.seats.map(x => seatHtml(x.room || r.id, x)).join("")}</div>` +
    (r.causes && r.causes.length ? `<ul class="causes" data-room="${esc(r.id)}">${r.causes.map(causeHtml).join("")}</ul>` : "")).join("");
  el("reqs").innerHTML = "<tr><th>要求 · rule</th><th>结论 · verdict</th><th>说明 · finding</th></tr>" +
    s.requirements.map(q => `<tr id="req-${esc(q.id)}"><td>${esc(q.id)} ${both(q.title)}</td>` +
    `<td class="${q.status || "none"}">${word(q.status)}</td><td>${both(q.message)}</td></tr>`).join("");
  el("fixes").innerHTML = s.fixes.length ? s.fixes.map(fixHtml).join("") : "<li>无 · nothing to fix</li>";
  el("live").innerHTML = s.live.map(liveLine).join("");
  if (!s.running) el("msg").innerHTML = "";  // "run started" ends with the run
  el("seatinfo").innerHTML = "";
  if (picked) showSeat(picked[0], picked[1]);
}
function liveLine(c) { return `<div class="${esc(c.status)}">${esc(c.requirement)} · ${both(c.label)}: ${word(c.status)}${c.figure ? " · " + both(c.figure) : ""}</div>`; }
async function refresh() { state = await (await fetch("api/state")).json(); seatRun = {}; draw(); }
el("rooms").addEventListener("click", ev => {
  const node = ev.target.closest(".seat");
  if (node && state) showSeat(node.dataset.room, node.dataset.label);
});
function onCheck(c) {
  if (!state) return;
  if (!state.running) { state.running = true; state.live = []; seatRun = {}; el("live").innerHTML = ""; }
  state.live.push(c);
  state.progress = {done: c.done || state.live.length, total: c.total};
  el("running").innerHTML = progressHtml(state);
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
setInterval(() => { if (state) el("exam").innerHTML = examHtml(state); }, 30000);
refresh();
</script></body></html>
"""
