"""The report's stylesheet, inlined into the page (the page loads nothing)."""

from __future__ import annotations

from ..results import RunRecord, Status

# Solid fills: the seat map must read at a glance on screen and in a colour print;
# every cell also carries its verdict in words for a black-and-white copy.
STATUS_COLOURS = {
    Status.PASS: ("#2f9e44", "#ffffff"),
    Status.WARN: ("#f0a020", "#1d1d1d"),
    Status.FAIL: ("#d63a3a", "#ffffff"),
    Status.ERROR: ("#8250df", "#ffffff"),
    Status.SKIP: ("#c9ced6", "#1d1d1d"),
}
UNCHECKED_COLOURS = ("#eef0f3", "#6b7280")


def _status_rules() -> str:
    rules = []
    for status, (fill, ink) in STATUS_COLOURS.items():
        rules.append(f".st-{status.value}{{background:{fill};color:{ink};}}")
    fill, ink = UNCHECKED_COLOURS
    rules.append(f".st-none{{background:{fill};color:{ink};border:1px dashed #b8bec7;}}")
    return "\n".join(rules)


CSS = """
@page { size: A4; margin: 14mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body {
  margin: 0; background: #f1f3f5; color: #1d1d1d;
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
    "Microsoft YaHei", "WenQuanYi Micro Hei", "DejaVu Sans", sans-serif;
  font-size: 10.5pt; line-height: 1.45;
}
.page { max-width: 210mm; margin: 0 auto; background: #fff; padding: 14mm 12mm; }
@media screen {
  .page { margin: 16px auto; box-shadow: 0 1px 6px rgba(0,0,0,.15); }
  section { margin-top: 12mm; }
}
@media print { body { background: #fff; } .page { padding: 0; max-width: none; } }
section { break-before: page; padding-top: 2mm; }
/* a section of one sentence (no trends yet) is not worth a page of its own */
section.brief { break-before: auto; padding-top: 6mm; }
h1 { font-size: 20pt; margin: 0 0 2mm; letter-spacing: .5px; }
h1 .en, h2 .en, h3 .en { font-weight: normal; }
h2 { font-size: 14pt; margin: 0 0 4mm; padding-bottom: 1.5mm; border-bottom: 2px solid #1d1d1d; }
h3 { font-size: 11.5pt; margin: 5mm 0 2mm; }
/* the language the reader did not choose: smaller and grey; the chosen one reads plain */
.lead-zh .en, .lead-en .zh { color: #555; font-size: .88em; }
.zh + .en, .en + .zh { margin-left: .45em; }
.block > .en, .block > .zh + .en { display: block; margin-left: 0; }
p { margin: 1.5mm 0; }
.muted { color: #666; }
.small { font-size: 8.5pt; }
code, .mono {
  font-family: "DejaVu Sans Mono", "Noto Sans Mono CJK SC", "Liberation Mono", monospace;
  font-size: .88em; overflow-wrap: anywhere;
}
.hash { word-break: break-all; font-size: 8.3pt; }
pre.mono {
  white-space: pre-wrap; background: #f6f7f9; border: 1px solid #d9dde2;
  border-radius: 3px; padding: 2mm 3mm; margin: 1.5mm 0;
}
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #c9ced6; padding: 1.4mm 2mm; vertical-align: top; text-align: left; }
th { background: #eef0f3; font-weight: bold; font-size: 9.5pt; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
.facts th { width: 28%; }
.badge {
  display: inline-block; padding: .2mm 2mm; border-radius: 3px; font-weight: bold;
  font-size: 8.5pt; white-space: nowrap;
}
.badge .en { color: inherit; font-size: .85em; }
.verdict {
  margin: 5mm 0 3mm; padding: 4mm 5mm; border-radius: 4px; break-inside: avoid;
  border: 2px solid #1d1d1d;
}
.verdict .word { font-size: 22pt; font-weight: bold; }
.verdict.ready { background: #e6f4ea; border-color: #2f9e44; }
.verdict.not_ready { background: #fde8e8; border-color: #d63a3a; }
.verdict.unverified { background: #fff4de; border-color: #f0a020; }
.verdict.not_signed { background: #fde8e8; border-color: #d63a3a; }
.counts span { margin-right: 3mm; }
.proof-box {
  border: 1px solid #1d1d1d; padding: 3mm 4mm; margin-top: 4mm; break-inside: avoid;
}
.proof-box.unsigned { border-color: #d63a3a; background: #fde8e8; }
.reqs td { font-size: 9pt; }
.reqs td .small { font-size: 8pt; }
.pairs { display: block; }
.pairs > span { display: block; }
.req td.verdict-cell { width: 19mm; }
.cite { border-left: 3px solid #9aa1a9; padding-left: 2mm; margin: 1mm 0; }
.cite .original { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; }
.findings { margin: 1mm 0 0; padding-left: 5mm; }
.findings li { margin: .6mm 0; }
.room { break-inside: avoid; margin-bottom: 6mm; }
.seats { display: grid; grid-template-columns: repeat(8, 1fr); gap: 1.6mm; }
.seat {
  border-radius: 3px; padding: 1.2mm 1mm; text-align: center; min-height: 14mm;
  break-inside: avoid; line-height: 1.2;
}
.seat .label { font-weight: bold; font-size: 10.5pt; display: block; }
.seat .st { font-size: 7.5pt; display: block; }
.seat .mbps { font-size: 8pt; display: block; font-weight: bold; }
.legend { margin: 2mm 0 4mm; }
.legend .seat-key {
  display: inline-block; width: 9mm; height: 4mm; vertical-align: middle;
  border-radius: 2px; margin: 0 1mm 0 3mm;
}
.snaps { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
figure { margin: 0; break-inside: avoid; }
figure img { width: 100%; height: auto; border: 1px solid #c9ced6; display: block; }
figcaption { font-size: 9pt; margin-top: 1mm; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm 5mm; }
.charts svg { width: 100%; height: auto; }
.leak { border: 1px solid #d63a3a; border-left-width: 5px; padding: 2mm 3mm;
  margin-bottom: 3mm; break-inside: avoid; }
.box { display: inline-block; width: 4.5mm; height: 4.5mm; border: 1.5px solid #1d1d1d;
  vertical-align: middle; text-align: center; line-height: 4mm; font-weight: bold; }
.sign-line { display: inline-block; min-width: 30mm; border-bottom: 1px solid #1d1d1d;
  height: 5mm; vertical-align: bottom; }
.att td { height: 11mm; }
.cmd { font-size: 9.5pt; }
.appendix td, .appendix th { font-size: 7.8pt; padding: .8mm 1.2mm; line-height: 1.3; }
.appendix .en { font-size: .95em; }
ol.contents { columns: 2; margin: 0; }
footer { margin-top: 6mm; border-top: 1px solid #c9ced6; padding-top: 2mm; }
/* page 1: everything an inspector needs without turning the page */
header.page1 { break-after: page; }
header.page1 h1 { font-size: 16pt; margin-bottom: 1mm; }
header.page1 h3 { margin: 2mm 0 1mm; }
.verdict .word { font-size: 18pt; }
.verdict p { margin: .8mm 0; }
.rule-id { white-space: nowrap; }
header.page1 .facts th, header.page1 .facts td { padding: .9mm 2mm; font-size: 9.5pt; }
.verdict .row { display: flex; align-items: baseline; gap: 4mm; }
.verdict { margin: 3mm 0 2mm; padding: 2.5mm 4mm; }
ol.fixes { margin: 1mm 0; padding-left: 6mm; font-size: 9pt; }
ol.fixes li { margin: .8mm 0; break-inside: avoid; }
ol.fixes .do { font-weight: bold; }
ol.fixes .figure { font-size: 8.5pt; }
ol.fixes .rules { font-size: 8pt; color: #555; }
.drill-mark { border: 2px solid #8250df; color: #8250df; font-weight: bold; padding: 1mm 3mm;
  display: inline-block; letter-spacing: 1px; margin-bottom: 2mm; }
.proof-box.signed { display: grid; grid-template-columns: 1fr 30mm; gap: 3mm; align-items: start;
  padding: 2mm 3mm; margin-top: 2mm; }
.proof-box .facts th { width: 24%; }
.proof-box .qr svg { width: 27mm; height: 27mm; }
.signoff { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; margin-top: 2mm;
  break-inside: avoid; font-size: 9pt; }
.signer { border: 1px solid #1d1d1d; padding: 2mm 3mm; }
.signer div { margin-top: 1.2mm; }
.signer { padding: 1.5mm 3mm; }
.signer .sign-line { min-width: 22mm; margin-right: 2mm; }
.bad { color: #d63a3a; }
/* one seat plan per room: the whole room on one page */
section.room { break-inside: avoid; }
.front { display: flex; flex-wrap: wrap; gap: 1.5mm; align-items: center; margin: 2mm 0 3mm;
  padding: 2mm; border: 1px dashed #9aa1a9; }
.front .host { border-radius: 3px; padding: .8mm 2mm; font-size: 8pt; }
.front .host .en { color: inherit; }
.seats { display: grid; gap: 1.4mm; }
.seat { min-height: 15mm; }
/* the filter matrix: one table, one page */
.matrix { table-layout: fixed; break-inside: avoid; }
.matrix th, .matrix td { font-size: 8pt; padding: 1mm 1.2mm; text-align: center; }
.matrix tbody th { text-align: left; }
.matrix td.leaked { background: #d63a3a; color: #fff; font-weight: bold; }
.matrix td.blocked { background: #e6f4ea; }
.matrix td.open { background: #fff4de; }
.matrix td.none { color: #6b7280; }
.matrix .en { color: inherit; }
ol.leaklines li { margin: .8mm 0; }
.snaps { grid-template-columns: 1fr 1fr 1fr; gap: 3mm; }
.snaps figcaption { font-size: 8pt; }
/* the appendix: one line per check */
.appendix { table-layout: fixed; }
.appendix td { overflow-wrap: anywhere; }
.appendix td, .appendix th { font-size: 7.2pt; padding: .4mm 1mm; }
.appendix .badge { font-size: 6.8pt; padding: 0 1mm; }
.reqs td { font-size: 8.5pt; }
/* a seat nothing proved either way: hatched grey, never mistaken for a pass or a fail */
.seat.v-none, .seat-key.v-none {
  background: repeating-linear-gradient(135deg, #e3e6ea 0 2mm, #f7f8fa 2mm 4mm);
  color: #1d1d1d; border: 1.5px dashed #6b7280;
}
/* some checks of the seat could not be made: a hatched band along its foot */
.seat.v-partly, .seat-key.v-partly { position: relative; }
.seat.v-partly::after, .seat-key.v-partly::after {
  content: ""; position: absolute; left: 0; right: 0; bottom: 0; height: 2.2mm;
  border-radius: 0 0 3px 3px;
  background: repeating-linear-gradient(135deg, rgba(255,255,255,.85) 0 1mm,
    rgba(0,0,0,.25) 1mm 2mm);
}
.seat .why { font-size: 6.3pt; display: block; line-height: 1.15; overflow-wrap: anywhere;
  padding-bottom: 1.6mm; }
.seat .why > span { white-space: nowrap; }
.seat .en { color: inherit; }
.by-rule { margin: 1mm 0 2mm; }
.by-rule .rule-count { white-space: nowrap; }
.causes { border: 1px solid #9aa1a9; padding: 1.5mm 3mm; break-inside: avoid; }
.causes h3 { margin: 0 0 1mm; font-size: 10pt; }
.causes ul { margin: 0; padding-left: 4mm; }
.causes li { margin: .5mm 0; }
/* a camera's tile: its picture and every camera rule's verdict about it */
figure.camera ul.rules { list-style: none; margin: 1mm 0 0; padding: 0; }
figure.camera ul.rules li { margin: .6mm 0; }
figure.camera .leak { font-size: 7.5pt; padding: 1.5mm 2mm; }
figure.camera .nopic { border: 1px dashed #c9ced6; padding: 6mm 2mm; text-align: center; }
""" + _status_rules()



def _css_string(text: str) -> str:
    """A CSS string literal of `text`: nothing in a site code can end it or the style."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in " .-_#/:·" or ord(ch) > 0x7f:
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):x} ")
    return '"' + "".join(out) + '"'


def page_css(run: RunRecord, head: str | None, drill: bool) -> str:
    """Every printed page's margins: page x/N, the site code, the run number and the chain
    head at the foot (the paper is bound to its proof), and a drill's mark at the head."""
    run_id = getattr(run, "run_id", None)
    foot = " · ".join(part for part in (
        run.site_code, f"run 检查编号 #{run_id}" if run_id else "",
        f"chain head 链头 {head}" if head else "not signed 未签名") if part)
    mark = ("@top-right { content: " + _css_string("演练 DRILL — not a real check 非正式检查")
            + "; color: #8250df; font-weight: bold; font-size: 9pt; }") if drill else ""
    return ("@page { margin-bottom: 16mm; "
            "@bottom-left { content: " + _css_string(foot) + "; font-family: monospace; "
            "font-size: 6.5pt; color: #444; } "
            "@bottom-right { content: \"page \" counter(page) \"/\" counter(pages) "
            "\" 页\"; font-size: 8pt; color: #444; } " + mark + " }")
