"""The report's stylesheet and its self-check script, inlined into ``index.html``.

Offline by construction: system font stacks only (no web fonts), no ``url()``, no imports.
The script opens a collapsed card that a link points to; with ``?self-check`` in the URL it
also loads every (lazy) image, counts the broken ones and load errors, and measures whether
the scorecard fits its container, into attributes on ``<html>`` for the automated browser
check (tests/test_report_browser.py). The page reads fine without it.
"""

STYLESHEET = """
:root { --ink:#1c2230; --soft:#5b6474; --line:#e3e6eb; --paper:#ffffff; --wash:#f6f7f9;
  --accent:#2f5bd3; --ok:#1f7a45; --ok-bg:#e3f4ea; --fail:#b42318; --fail-bg:#fde7e5;
  --partial:#8a5a00; --partial-bg:#fff1d6; --smoke:#6b3fa0; --smoke-bg:#efe6fa;
  --muted:#4b5565; --muted-bg:#eceff3; }
* { box-sizing: border-box; }
html { background: var(--wash); }
body { margin: 0 auto; max-width: 1180px; padding: 40px 32px 80px; color: var(--ink);
  background: var(--paper); font: 15px/1.6 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", "Noto Sans", "DejaVu Sans", Arial, sans-serif;
  box-shadow: 0 0 0 1px var(--line); }
h1 { font-size: 28px; line-height: 1.25; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 48px 0 12px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 17px; margin: 28px 0 8px; }
h4 { font-size: 15px; margin: 0 0 4px; }
p { margin: 8px 0 12px; max-width: 78ch; }
.lede { color: var(--soft); font-size: 16px; }
.subtitle { color: var(--soft); margin: 0 0 18px; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 13px; }
code { background: var(--wash); padding: 1px 5px; border-radius: 4px; }
.wrap { overflow-wrap: anywhere; white-space: normal; }  /* long parameter values wrap, never cut */
pre { background: var(--wash); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
  overflow-x: auto; line-height: 1.45; }
nav.toc { display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 10px 0 4px; border-bottom: 1px solid var(--line);
  margin-bottom: 8px; font-size: 14px; }
nav.toc a, a { color: var(--accent); text-decoration: none; }
nav.toc a:hover, a:hover { text-decoration: underline; }
.glance { display: flex; flex-wrap: wrap; gap: 10px; margin: 18px 0 8px; }
.glance .tile { border: 1px solid var(--line); border-radius: 10px; padding: 8px 14px; min-width: 120px; }
.glance .tile b { display: block; font-size: 24px; line-height: 1.1; }
.glance .tile span { color: var(--soft); font-size: 13px; }
.table-wrap { overflow-x: auto; margin: 10px 0 18px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 7px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--wash); font-weight: 600; color: var(--soft); font-size: 12.5px;
  text-transform: uppercase; letter-spacing: 0.03em; white-space: nowrap; }
tbody tr:hover td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
/* The scorecard fits the content width at 1,280 px: fixed columns, every cell wraps. */
.scorecard-wrap { margin: 10px 0 18px; }
table.scorecard { table-layout: fixed; width: 100%; }
table.scorecard col.c-claim { width: 38%; } table.scorecard col.c-claimed { width: 18%; }
table.scorecard col.c-ours { width: 24%; } table.scorecard col.c-verdict { width: 20%; }
table.scorecard td { overflow-wrap: anywhere; word-break: normal; }
table.scorecard tr:target td { background: #fff8e6; }
.verdict { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 12.5px; font-weight: 700; }
.verdict.ok { color: var(--ok); background: var(--ok-bg); }
.verdict.fail { color: var(--fail); background: var(--fail-bg); }
.verdict.partial { color: var(--partial); background: var(--partial-bg); }
.verdict.muted { color: var(--muted); background: var(--muted-bg); }
.why { display: block; color: var(--ink); font-size: 13px; margin-top: 3px; }
.why-counts { color: var(--soft); margin-top: 0; }
.links { display: block; font-size: 12.5px; margin-top: 2px; }
p.legend { max-width: none; font-size: 13.5px; color: var(--soft); }
details.claim { padding: 6px 12px; margin: 6px 0; }
details.claim > summary { font-weight: 500; }
details.experiment > summary { font-weight: 600; }
.meta-inline { color: var(--soft); font-weight: 400; font-size: 13px; }
table.metrics td, table.conventions td { overflow-wrap: anywhere; }
table.metrics td:first-child, table.conventions td:first-child { width: 230px; min-width: 230px; }
table.comparison { font-size: 13.5px; }
table.comparison th, table.comparison td { padding: 6px 8px; }
table.comparison th { text-transform: none; letter-spacing: 0; white-space: normal; }
table.comparison td.best { font-weight: 700; color: var(--ok); background: var(--ok-bg); }
table.comparison td.input, table.comparison td.reference { color: var(--soft); font-style: italic; }
table.comparison tr:has(td.input) td, table.comparison tr:has(td.reference) td { background: var(--wash); }
p.caption { color: var(--soft); font-size: 13px; margin-top: -10px; }
h4.stress { margin: 14px 0 0; font-weight: 600; color: var(--soft); }
tr.group td { background: #f1f3f7; font-weight: 600; color: var(--ink); font-size: 13px; padding-top: 9px; }
.meta { display: block; color: var(--soft); font-size: 12.5px; margin-top: 2px; }
.status { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 12.5px; font-weight: 600;
  white-space: nowrap; }
.status.ok { color: var(--ok); background: var(--ok-bg); }
.status.fail { color: var(--fail); background: var(--fail-bg); }
.status.partial { color: var(--partial); background: var(--partial-bg); }
.status.smoke { color: var(--smoke); background: var(--smoke-bg); }
.status.muted { color: var(--muted); background: var(--muted-bg); }
.status.idle { color: var(--soft); background: transparent; border: 1px dashed #c3c9d2; }
.flag { color: #b54708; font-weight: 700; cursor: help; }
.callout { border-left: 4px solid var(--fail); background: var(--fail-bg); padding: 10px 14px;
  border-radius: 6px; margin: 16px 0; }
.callout.note { border-color: #d99a00; background: #fff8e6; }
.discrepancies li { margin-bottom: 10px; max-width: 90ch; }
.experiment { border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px; margin: 16px 0; }
.badges { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0 10px; }
.badge { font-size: 12.5px; background: var(--wash); border: 1px solid var(--line); border-radius: 6px;
  padding: 0 7px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; margin-top: 10px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #fff; min-width: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; image-rendering: auto; }
/* Wide figures (curves, findings) take the whole width; native ones are never scaled down. */
figure.wide, figure.native, figure.scroll { grid-column: 1 / -1; }
figure.wide img { width: 100%; }
figure.native, figure.scroll { overflow-x: auto; }
figure.native img, figure.scroll img { max-width: none; margin: 0; }
figcaption { font-size: 12.5px; color: var(--soft); margin-top: 6px; }
.missing { color: var(--fail); font-size: 13px; }
details { border: 1px solid var(--line); border-radius: 10px; padding: 8px 14px; margin: 10px 0; }
details > summary { cursor: pointer; font-weight: 600; }
details[open] > summary { margin-bottom: 8px; }
.kv th { text-transform: none; letter-spacing: 0; width: 170px; font-size: 13px; }
.dag-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 10px; background: #fff; }
svg.dag text { font: 12px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; fill: var(--ink); }
svg.dag .edge { fill: none; stroke: #9aa4b2; stroke-width: 1.2; }
svg.dag .node { stroke: #b8c0cc; stroke-width: 1; }
footer { margin-top: 56px; color: var(--soft); font-size: 13px; border-top: 1px solid var(--line); padding-top: 12px; }
@media print { body { box-shadow: none; padding: 0; } details { break-inside: avoid; } }
"""

SELF_CHECK_SCRIPT = """
(function () {
  var errors = 0, root = document.documentElement;
  window.addEventListener('error', function () {
    errors += 1; root.setAttribute('data-load-errors', String(errors));
  }, true);
  // A link to a collapsed card opens it (and the card it sits in), so every link lands somewhere visible.
  function reveal() {
    var target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === 'DETAILS') { node.open = true; }
    }
    if (target) { target.scrollIntoView(); }
  }
  // The scorecard must fit its container: no column cut off, every verdict on screen.
  function measureScorecard() {
    var wrap = document.querySelector('.scorecard-wrap'), table = wrap && wrap.querySelector('table');
    if (!table) { return; }
    var box = wrap.getBoundingClientRect(), hidden = 0, cells = wrap.querySelectorAll('td.verdict-cell');
    for (var i = 0; i < cells.length; i += 1) {
      var cell = cells[i].getBoundingClientRect();
      if (cell.width === 0 || cell.height === 0 || cell.right > box.right + 0.5 || cell.left < box.left - 0.5) { hidden += 1; }
    }
    root.setAttribute('data-scorecard-overflow', String(table.scrollWidth - wrap.clientWidth));
    root.setAttribute('data-verdict-cells', String(cells.length));
    root.setAttribute('data-hidden-verdicts', String(hidden));
  }
  // With ?self-check in the URL, every lazy image is loaded and decoded before counting.
  function checkImages() {
    var images = Array.prototype.slice.call(document.images);
    var settled = images.map(function (image) {
      // A fresh copy loads at once, where the lazy original may wait for a card to open.
      return new Promise(function (resolve) {
        var probe = new Image();
        probe.onload = function () { resolve(probe.naturalWidth > 0); };
        probe.onerror = function () { resolve(false); };
        probe.src = image.currentSrc || image.src;
      });
    });
    return Promise.all(settled).then(function (results) {
      root.setAttribute('data-images', String(images.length));
      root.setAttribute('data-broken-images', String(results.filter(function (ok) { return !ok; }).length));
    });
  }
  window.addEventListener('hashchange', reveal);
  window.addEventListener('load', function () {
    reveal();
    if (location.search.indexOf('self-check') < 0) { return; }
    measureScorecard();
    checkImages().then(function () {
      root.setAttribute('data-load-errors', String(errors));
      root.setAttribute('data-self-check', 'done');
    });
  });
})();
"""
