/**
 * The dashboard page (GET /dashboard) and its style sheet (/dashboard/app.css). The page holds
 * no data: everything it shows comes from /stats/stream, read by /dashboard/app.js. It loads
 * nothing from outside the router (the Content-Security-Policy of dashboard-page-route.ts says so
 * to the browser too).
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edgeplane router dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uplot.css">
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body>
<header>
  <h1>Edgeplane router</h1>
  <p id="connection" role="status" aria-live="polite" data-state="connecting">Connecting…</p>
  <dl class="facts">
    <div><dt>config revision</dt><dd id="revision">–</dd></div>
    <div><dt>version</dt><dd id="version">–</dd></div>
    <div><dt>workers answering</dt><dd id="workers">–</dd></div>
    <div><dt>in flight</dt><dd id="inflight">–</dd></div>
    <div><dt>WebSockets</dt><dd id="websockets">–</dd></div>
  </dl>
</header>
<section id="auth" hidden>
  <form id="auth-form">
    <p id="auth-message">This router requires an admin token.</p>
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
    <button type="submit">Connect</button>
    <p class="muted">Kept in this browser tab only (sessionStorage) and sent as <code>Authorization: Bearer</code> to this router.</p>
  </form>
</section>
<main id="content">
  <section id="apps-section" class="wide">
    <div class="section-head">
      <h2>Apps <small id="apps-count"></small></h2>
      <form id="find" role="search">
        <label for="find-app" class="visually-hidden">App name</label>
        <input id="find-app" list="app-names" placeholder="any app by name" autocomplete="off" spellcheck="false">
        <datalist id="app-names"></datalist>
        <button type="submit">Show</button>
        <small id="find-message" role="status"></small>
      </form>
    </div>
    <p class="muted">Busiest first, over the last 60 seconds; req/s is the last second.</p>
    <div class="scroll">
      <table id="apps">
        <thead><tr><th scope="col">app</th><th scope="col">req/s</th><th scope="col">60 s</th><th scope="col">2xx</th><th scope="col">3xx</th>
          <th scope="col">4xx</th><th scope="col">5xx</th><th scope="col">p50</th><th scope="col">p99</th><th scope="col">dynos</th><th scope="col">canary</th></tr></thead>
        <tbody id="apps-body"></tbody>
      </table>
    </div>
  </section>
  <section id="detail" class="wide" hidden>
    <div class="section-head"><h2 id="detail-title"></h2><small id="detail-since" class="muted"></small></div>
    <div class="charts">
      <div class="chart" id="chart-requests"></div>
      <div class="chart" id="chart-latency"></div>
    </div>
    <h3>Dynos</h3>
    <ul id="dynos" class="dynos"></ul>
  </section>
  <section id="canaries-section">
    <h2>Canaries</h2>
    <div id="canaries"></div>
  </section>
  <section id="config-section">
    <h2>Config</h2>
    <p id="config-summary"></p>
    <div class="scroll">
      <table id="reloads">
        <thead><tr><th scope="col">time</th><th scope="col">trigger</th><th scope="col">result</th><th scope="col">revision</th><th scope="col">took</th></tr></thead>
        <tbody id="reloads-body"></tbody>
      </table>
    </div>
  </section>
  <section id="tail-section" class="wide" hidden>
    <div class="section-head">
      <h2>Live tail: <span id="tail-app"></span></h2>
      <button id="tail-toggle" type="button">Start tail</button>
      <small id="tail-status" class="muted" role="status"></small>
    </div>
    <pre id="tail" tabindex="0" aria-label="log lines"></pre>
  </section>
  <footer><button id="forget" type="button" class="link" hidden>Forget the token</button></footer>
</main>
<script src="/dashboard/uplot.js"></script>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

/** Okabe-Ito colours for the status classes (as in the charts), each state also spelled out in text. */
export const DASHBOARD_CSS = `
:root { --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de;
  --ok: #009E73; --warn: #E69F00; --bad: #D55E00; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
h3 { font-size: .95rem; margin: .75rem 0 .25rem; }
small, .muted { color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; margin: 0; }
.facts div { display: flex; gap: .35rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
#connection { margin: 0; padding: .15rem .6rem; border-radius: 1rem; font-weight: 600; border: 2px solid; }
#connection[data-state="live"] { color: #005c44; border-color: var(--ok); }
#connection[data-state="live"]::before { content: "\\25CF  "; }
#connection[data-state="connecting"] { color: var(--muted); border-color: var(--line); }
#connection[data-state="disconnected"], #connection[data-state="locked"] { color: #8a3300; border-color: var(--bad); border-style: dashed; }
#connection[data-state="disconnected"]::before { content: "\\25CB  "; }
#connection[data-state="locked"]::before { content: "\\1F512  "; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 30rem), 1fr)); gap: 1rem; padding: 1rem; }
main[hidden] { display: none; }
section { min-width: 0; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
section.wide { grid-column: 1 / -1; }
.section-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1rem; }
.section-head h2 { margin-right: auto; }
#auth { max-width: 32rem; margin: 2rem auto; }
#auth input { width: 100%; margin: .25rem 0 .5rem; }
input, button { font: inherit; padding: .3rem .6rem; border: 1px solid var(--line); border-radius: 4px; }
button { background: var(--panel); cursor: pointer; }
button:focus-visible, input:focus-visible, .app-link:focus-visible { outline: 3px solid var(--accent); outline-offset: 1px; }
button.link, .app-link { border: 0; background: none; padding: 0; color: var(--accent); text-decoration: underline; cursor: pointer; font: inherit; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child, #reloads td { text-align: left; }
thead th { color: var(--muted); font-weight: 600; }
tr.selected { background: #e8f1fa; }
tr.selected th::before { content: "\\25B6  "; color: var(--accent); }
td.bad, tr.bad td, .canary.aborted .state { color: #8a3300; font-weight: 700; }
td.c4xx { background: #fdf1dc; }
td.c5xx { background: #fbe3d6; }
.warn { color: #6b4a00; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: 1rem; }
.chart { min-width: 0; }
.dynos { list-style: none; padding: 0; margin: 0; columns: 2 18rem; }
.dynos li { padding: .1rem 0; }
.dynos li.ok .mark { color: #005c44; }
.canary { border-left: 6px solid var(--ok); padding: .25rem .75rem; margin-bottom: .75rem; }
.canary.aborted { border-left: 6px double var(--bad); background: #fff6f1; }
.canary h3 { margin-top: 0; }
.canary table { width: auto; }
.evidence meter { width: 8rem; vertical-align: middle; }
#tail { height: 18rem; overflow: auto; margin: .5rem 0 0; padding: .5rem; background: #111; color: #e6e6e6; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-all; }
footer { grid-column: 1 / -1; text-align: right; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.u-title { font-size: .95rem !important; font-weight: 600 !important; }
@media (max-width: 40rem) {
  body { font-size: 14px; }
  main { padding: .5rem; gap: .5rem; }
  section { padding: .5rem; }
  th, td { padding: .2rem .35rem; }
}
`;
