/**
 * The dashboard page's script (served as /dashboard/app.js; no build step, no framework). It
 * reads GET /stats/stream with fetch (EventSource cannot send the Authorization header),
 * keeps the last 60 seconds per app from the first event and each second after, and draws
 * them with uPlot (served by the router itself). The admin token, when the router asks for
 * one, is typed in and kept in sessionStorage. Plain ES2020, no template literals (this file
 * is one itself).
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'edgeplane.dashboard.token';
  var APP_KEY = 'edgeplane.dashboard.app';
  var WINDOW = 60;
  var TAIL_LINES_KEPT = 500;
  var STALE_MS = 5000;
  var CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies; each series also has its own dash and label
  var CLASS_STYLE = {
    '1xx': { stroke: '#56B4E9', dash: [1, 3] },
    '2xx': { stroke: '#009E73', dash: [] },
    '3xx': { stroke: '#0072B2', dash: [10, 4] },
    '4xx': { stroke: '#E69F00', dash: [4, 4] },
    '5xx': { stroke: '#D55E00', dash: [2, 2] }
  };

  var $ = function (id) { return document.getElementById(id); };
  var state = { timeline: [], apps: new Map(), order: [], doc: null, selected: sessionStorage.getItem(APP_KEY) };
  var stream = null;
  var retryDelay = 1000;
  var retryTimer = null;
  var lastEventAt = 0;
  var charts = { requests: null, latency: null, app: null };
  var tail = null;

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function authHeaders() { var t = token(); return t ? { authorization: 'Bearer ' + t } : {}; }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function fmtMs(v) {
    if (v === null || v === undefined) return '\u2013';
    if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + ' s';
    if (v >= 10) return Math.round(v) + ' ms';
    return v.toFixed(v >= 1 ? 1 : 2) + ' ms';
  }

  function pad2(n) { return n < 10 ? '0' + n : String(n); }
  function clock(s) { var d = new Date(s * 1000); return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()); }

  function fmtTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
  }

  // ---- connection state ------------------------------------------------------------------

  function setConnection(kind, text) {
    var c = $('connection');
    c.dataset.state = kind;
    c.textContent = text;
  }

  function showAuth(message) {
    $('auth').hidden = false;
    $('auth-message').textContent = message;
    $('content').hidden = true;
    $('token').focus();
  }

  function hideAuth() {
    $('auth').hidden = true;
    $('content').hidden = false;
    $('forget').hidden = !token();
  }

  function scheduleRetry(reason) {
    if (retryTimer) clearTimeout(retryTimer);
    var at = Date.now() + retryDelay;
    var tick = function () {
      var left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      setConnection('disconnected', 'Disconnected' + (reason ? ' (' + reason + ')' : '') + ': retrying in ' + left + ' s');
      if (left > 0) retryTimer = setTimeout(tick, 250);
      else { retryTimer = null; connect(); }
    };
    retryDelay = Math.min(retryDelay * 2, 10000);
    tick();
  }

  function connect() {
    if (stream) stream.abort();
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    var ctrl = new AbortController();
    stream = ctrl;
    setConnection('connecting', 'Connecting\u2026');
    var q = state.selected ? '?app=' + encodeURIComponent(state.selected) : '';
    fetch('/stats/stream' + q, { headers: authHeaders(), signal: ctrl.signal, cache: 'no-store' }).then(function (res) {
      if (res.status === 401) {
        if (res.body) res.body.cancel();
        setConnection('locked', 'Locked: admin token needed');
        showAuth(token() ? 'The token was not accepted (401 Unauthorized). Enter the admin token (ROUTER_ADMIN_TOKEN):'
          : 'This router requires an admin token (ROUTER_ADMIN_TOKEN). Enter it to see its data:');
        return;
      }
      if ((res.status === 404 || res.status === 400) && state.selected) {
        if (res.body) res.body.cancel();
        // the app asked for is not one: say so and go back to the busiest apps
        $('find-message').textContent = 'No app ' + state.selected + ' in the running config.';
        state.selected = null;
        sessionStorage.removeItem(APP_KEY);
        setTimeout(connect, 0);
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      hideAuth();
      retryDelay = 1000;
      lastEventAt = Date.now();
      setConnection('live', 'Live');
      return readEvents(res.body, ctrl);
    }).then(function (ended) {
      if (ended && stream === ctrl) scheduleRetry('stream ended');
    }, function (err) {
      if (stream !== ctrl || ctrl.signal.aborted && ctrl.reason === 'replaced') return;
      scheduleRetry(err && err.message ? err.message : 'network error');
    });
  }

  function readEvents(body, ctrl) {
    var reader = body.pipeThrough(new TextDecoderStream()).getReader();
    var buf = '';
    var pump = function () {
      return reader.read().then(function (r) {
        if (r.done) return true;
        buf += r.value;
        var i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          var block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (stream === ctrl) onEvent(block);
        }
        return pump();
      });
    };
    return pump();
  }

  // a stream that stays open but says nothing is as good as dropped
  setInterval(function () {
    if (stream && $('connection').dataset.state === 'live' && Date.now() - lastEventAt > STALE_MS) {
      var s = stream;
      stream = null;
      s.abort();
      scheduleRetry('no data for ' + STALE_MS / 1000 + ' s');
    }
  }, 1000);

  function onEvent(block) {
    var type = 'message';
    var data = '';
    block.split('\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) type = line.slice(6).trim();
      else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
    });
    lastEventAt = Date.now();
    if (!data) return;
    var doc = JSON.parse(data);
    if (type === 'snapshot') applySnapshot(doc);
    else if (type === 'tick') applyTick(doc);
    render();
  }

  // ---- state -----------------------------------------------------------------------------

  function emptySeries() {
    var s = { requests: [], p50Ms: [], p99Ms: [] };
    CLASSES.forEach(function (c) { s[c] = []; });
    Object.keys(s).forEach(function (k) { for (var i = 0; i < WINDOW; i++) s[k].push(null); });
    return s;
  }

  function applySnapshot(doc) {
    state.doc = doc;
    state.timeline = doc.timeline.slice();
    state.apps = new Map();
    doc.apps.forEach(function (a) { if (!a.series) a.series = emptySeries(); state.apps.set(a.name, a); });
    state.order = doc.apps.map(function (a) { return a.name; });
  }

  function applyTick(doc) {
    state.doc = doc;
    state.timeline.push(doc.second);
    while (state.timeline.length > WINDOW) state.timeline.shift();
    var next = new Map();
    doc.apps.forEach(function (a) {
      var known = state.apps.get(a.name);
      var series = known && known.series ? known.series : emptySeries();
      var last = a.last;
      Object.keys(series).forEach(function (k) {
        var v = null;
        if (last) v = k === 'requests' || k === 'p50Ms' || k === 'p99Ms' ? last[k] : last.classes[k];
        else if (a.held && k !== 'p50Ms' && k !== 'p99Ms') v = 0;
        series[k].push(v);
        while (series[k].length > WINDOW) series[k].shift();
      });
      a.series = series;
      next.set(a.name, a);
    });
    state.apps = next;
    state.order = doc.apps.map(function (a) { return a.name; });
  }

  // ---- rendering ---------------------------------------------------------------------------

  function render() {
    var doc = state.doc;
    if (!doc) return;
    // the newest second the page shows (epoch ms; none before the first): for tests and page scrapers
    document.body.dataset.second = doc.second ? String(doc.second) : '';
    $('revision').textContent = String(doc.config.revision);
    $('version').textContent = doc.config.version;
    $('workers').textContent = doc.workers.answering + '/' + doc.workers.configured;
    $('inflight').textContent = String(doc.inFlight);
    $('websockets').textContent = String(doc.websockets);
    $('apps-count').textContent = doc.counts.shown + ' shown of ' + doc.counts.configured + ' configured';
    renderApps();
    renderDetail();
    renderCanaries(doc);
    renderConfig(doc);
    $('tail-section').hidden = !doc.logTail;
  }

  function renderApps() {
    var body = $('apps-body');
    var rows = document.createDocumentFragment();
    var names = $('app-names');
    names.textContent = '';
    state.order.forEach(function (name) {
      var a = state.apps.get(name);
      var tr = el('tr', { 'data-app': name });
      if (name === state.selected) tr.className = 'selected';
      var link = el('button', { type: 'button', 'class': 'app-link' }, name);
      link.addEventListener('click', function () { select(name); });
      var first = el('th', { scope: 'row' });
      first.appendChild(link);
      tr.appendChild(first);
      var w = a.window;
      tr.appendChild(el('td', { 'data-field': 'rps' }, a.last ? a.last.requests : 0));
      tr.appendChild(el('td', { 'data-field': 'requests' }, w ? w.requests : 0));
      ['2xx', '3xx', '4xx', '5xx'].forEach(function (c) {
        var n = w ? w.classes[c] : 0;
        var td = el('td', { 'data-field': c, 'class': n > 0 && (c === '5xx' || c === '4xx') ? 'bad c' + c : '' }, n);
        tr.appendChild(td);
      });
      tr.appendChild(el('td', { 'data-field': 'p50' }, fmtMs(w ? w.p50Ms : null)));
      tr.appendChild(el('td', { 'data-field': 'p99' }, fmtMs(w ? w.p99Ms : null)));
      var dynos = a.dynos.total === 0 ? 'none' : (a.dynos.total - a.dynos.ejected) + '/' + a.dynos.total + ' in rotation';
      var dt = el('td', { 'data-field': 'dynos', 'class': a.dynos.ejected > 0 ? 'warn' : '' }, (a.dynos.ejected > 0 ? '\u26A0 ' : '') + dynos);
      tr.appendChild(dt);
      var canary = canaryOf(name);
      tr.appendChild(el('td', { 'data-field': 'canary', 'class': canary && canary.state === 'aborted' ? 'bad' : '' },
        canary ? (canary.state === 'aborted' ? '\u2716 aborted' : '\u25CF active') : (a.maintenance ? 'maintenance' : '')));
      rows.appendChild(tr);
      names.appendChild(el('option', { value: name }));
    });
    body.textContent = '';
    body.appendChild(rows);
  }

  function canaryOf(app) {
    var list = state.doc ? state.doc.canaries : [];
    for (var i = 0; i < list.length; i++) if (list[i].app === app) return list[i];
    return null;
  }

  function xs() {
    var last = state.doc && state.doc.second ? state.doc.second / 1000 : Date.now() / 1000;
    var out = [];
    for (var i = 0; i < WINDOW; i++) out.push(Math.round(last) - (WINDOW - 1 - i));
    return out;
  }

  function chartWidth(box) {
    return Math.max(240, Math.floor(box.clientWidth || 320));
  }

  function makeChart(box, title, series, yLabel) {
    box.textContent = '';
    return new uPlot({
      title: title,
      width: chartWidth(box),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (_u, _min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [{ space: 70, values: function (_u, splits) { return splits.map(clock); } }, { label: yLabel, size: 60 }],
      series: [{}].concat(series)
    }, [xs()].concat(series.map(function () { return new Array(WINDOW).fill(null); })), box);
  }

  function renderDetail() {
    var name = state.selected && state.apps.has(state.selected) ? state.selected : state.order[0];
    var section = $('detail');
    if (!name) { section.hidden = true; return; }
    section.hidden = false;
    var a = state.apps.get(name);
    $('detail-title').textContent = name;
    var windowStart = state.timeline.length > 0 && state.timeline[0] !== null ? state.timeline[0] : null;
    $('detail-since').textContent = !a.held ? 'no history kept for it (no requests lately): counted from now on'
      : !a.since ? 'no requests yet'
        : windowStart !== null && Date.parse(a.since) <= windowStart ? 'last 60 seconds' : 'history since ' + fmtTime(a.since);
    if (charts.app !== name || !charts.requests) {
      charts.app = name;
      if (charts.requests) charts.requests.destroy();
      if (charts.latency) charts.latency.destroy();
      charts.requests = makeChart($('chart-requests'), 'Requests per second by status class',
        ['2xx', '3xx', '4xx', '5xx', '1xx'].map(function (c) {
          return { label: c, stroke: CLASS_STYLE[c].stroke, dash: CLASS_STYLE[c].dash, width: 2, points: { show: false } };
        }), 'req/s');
      charts.latency = makeChart($('chart-latency'), 'Latency (ms)', [
        { label: 'p50', stroke: '#0072B2', width: 2, dash: [], points: { show: false } },
        { label: 'p99', stroke: '#CC79A7', width: 2, dash: [6, 3], points: { show: false } }
      ], 'ms');
    }
    var s = a.series || emptySeries();
    charts.requests.setData([xs(), s['2xx'], s['3xx'], s['4xx'], s['5xx'], s['1xx']]);
    charts.latency.setData([xs(), s.p50Ms, s.p99Ms]);
    var list = $('dynos');
    list.textContent = '';
    a.dynos.list.forEach(function (d) {
      var li = el('li', { 'data-dyno': d.address, 'class': d.ejected ? 'warn' : 'ok' });
      li.appendChild(el('span', { 'class': 'mark' }, d.ejected ? '\u26A0 ejected' : '\u2714 in rotation'));
      li.appendChild(document.createTextNode(' ' + d.address + (d.ejected ? ' (' + d.workers + ' worker' + (d.workers === 1 ? '' : 's') + ', back in ' + fmtMs(d.forMs) + ')' : '')));
      list.appendChild(li);
    });
    if (a.dynos.total > a.dynos.list.length) list.appendChild(el('li', null, '\u2026 and ' + (a.dynos.total - a.dynos.list.length) + ' more'));
    if (a.dynos.total === 0) list.appendChild(el('li', null, 'no dynos (requests get H14)'));
    $('tail-app').textContent = name;
  }

  function renderCanaries(doc) {
    var box = $('canaries');
    box.textContent = '';
    if (doc.canaries.length === 0) { box.appendChild(el('p', { 'class': 'muted' }, 'No canaries configured.')); return; }
    doc.canaries.forEach(function (c) {
      var card = el('div', { 'class': 'canary ' + c.state, 'data-canary': c.app });
      var h = el('h3');
      h.appendChild(el('span', { 'class': 'state', 'data-field': 'state' }, c.state === 'aborted' ? '\u2716 aborted' : '\u25CF active'));
      h.appendChild(document.createTextNode(' ' + c.app + ' \u2192 ' + c.canary + ' (' + c.weight + ' %)'));
      card.appendChild(h);
      var t = el('table', { 'class': 'counts' });
      var head = el('tr');
      ['', 'requests', 'errors (' + c.statuses + ')', 'rate'].forEach(function (x) { head.appendChild(el('th', null, x)); });
      t.appendChild(head);
      [['canary', c.counts.canary, c.rates.canary], ['production', c.counts.production, c.rates.production]].forEach(function (r) {
        var tr = el('tr');
        tr.appendChild(el('th', { scope: 'row' }, r[0]));
        tr.appendChild(el('td', { 'data-field': r[0] + '-requests' }, r[1].requests));
        tr.appendChild(el('td', { 'data-field': r[0] + '-errors' }, r[1].errors));
        tr.appendChild(el('td', null, (r[2] * 100).toFixed(2) + ' %'));
        t.appendChild(tr);
      });
      var scroll = el('div', { 'class': 'scroll' });
      scroll.appendChild(t);
      card.appendChild(scroll);
      var test = el('p', { 'class': 'evidence' });
      // more evidence is worse: the meter turns from the optimum (none) to its worst at the threshold
      var meter = el('meter', { min: '0', max: String(c.test.threshold), low: String(c.test.threshold / 2), high: String(c.test.threshold * 0.999), optimum: '0',
        value: String(Math.max(0, Math.min(c.test.evidence, c.test.threshold))) });
      test.appendChild(el('span', null, 'Evidence '));
      test.appendChild(meter);
      test.appendChild(el('span', { 'data-field': 'evidence' }, ' ' + c.test.evidence.toFixed(2) + ' of ' + c.test.threshold.toFixed(2) +
        ' (confidence ' + c.confidence + '; ' + (c.test.minRequestsReached ? 'minRequests reached' : c.counts.canary.requests + '/' + c.minRequests + ' requests before it may abort') + ')'));
      card.appendChild(test);
      card.appendChild(el('p', { 'class': 'muted' }, (c.state === 'aborted' ? 'aborted at ' : 'counting since ') + fmtTime(c.since)));
      box.appendChild(card);
    });
  }

  function renderConfig(doc) {
    $('config-summary').textContent = 'Revision ' + doc.config.revision + ' (' + doc.config.source + ', version ' + doc.config.version + '), applied at ' + fmtTime(doc.config.appliedAt);
    var body = $('reloads-body');
    body.textContent = '';
    doc.config.reloads.forEach(function (r) {
      var tr = el('tr', { 'class': r.result === 'applied' ? '' : r.result === 'unchanged' ? 'muted' : 'bad' });
      tr.appendChild(el('td', null, fmtTime(r.time)));
      tr.appendChild(el('td', null, r.trigger));
      tr.appendChild(el('td', { 'data-field': 'result' }, (r.result === 'applied' ? '\u2714 ' : r.result === 'unchanged' ? '= ' : '\u2716 ') + r.result));
      tr.appendChild(el('td', null, r.revision));
      tr.appendChild(el('td', null, r.ms === undefined ? '' : fmtMs(r.ms)));
      body.appendChild(tr);
    });
    if (doc.config.reloads.length === 0) {
      var tr = el('tr');
      tr.appendChild(el('td', { colspan: '5', 'class': 'muted' }, 'No change since the router started.'));
      body.appendChild(tr);
    }
  }

  // ---- choosing an app -------------------------------------------------------------------

  function select(name) {
    if (!name) return;
    $('find-message').textContent = '';
    var known = state.apps.get(name);
    state.selected = name;
    sessionStorage.setItem(APP_KEY, name);
    stopTail();
    if (known && known.held) render();
    else connect(); // asked for by name, the stream adds the app and the router keeps its history
  }

  $('find').addEventListener('submit', function (e) {
    e.preventDefault();
    select($('find-app').value.trim());
  });

  // ---- token -----------------------------------------------------------------------------

  $('auth-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var t = $('token').value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token').value = '';
    connect();
  });

  $('forget').addEventListener('click', function () {
    sessionStorage.removeItem(TOKEN_KEY);
    stopTail();
    connect();
  });

  // ---- live tail (relayed by the router from the log shuttle) ------------------------------

  function stopTail() {
    if (tail) tail.abort();
    tail = null;
    $('tail-toggle').textContent = 'Start tail';
  }

  function appendTail(text) {
    var pre = $('tail');
    var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(text));
    while (pre.childNodes.length > TAIL_LINES_KEPT) pre.removeChild(pre.firstChild);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  $('tail-toggle').addEventListener('click', function () {
    if (tail) { stopTail(); return; }
    var name = $('tail-app').textContent;
    if (!name) return;
    var ctrl = new AbortController();
    tail = ctrl;
    $('tail').textContent = '';
    $('tail-toggle').textContent = 'Stop tail';
    $('tail-status').textContent = 'connecting\u2026';
    fetch('/dashboard/logs?app=' + encodeURIComponent(name), { headers: authHeaders(), signal: ctrl.signal, cache: 'no-store' }).then(function (res) {
      if (!res.ok || !res.body) {
        return res.text().then(function (t) { throw new Error('HTTP ' + res.status + (t ? ': ' + t.slice(0, 200) : '')); });
      }
      $('tail-status').textContent = 'following ' + name;
      var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      var pump = function () {
        return reader.read().then(function (r) {
          if (r.done) { $('tail-status').textContent = 'the tail ended'; if (tail === ctrl) stopTail(); return; }
          appendTail(r.value);
          return pump();
        });
      };
      return pump();
    }).catch(function (err) {
      if (ctrl.signal.aborted) return;
      $('tail-status').textContent = 'tail failed: ' + (err && err.message ? err.message : err);
      if (tail === ctrl) stopTail();
    });
  });

  // ---- layout ----------------------------------------------------------------------------

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    if (resizeTimer) clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      ['requests', 'latency'].forEach(function (k) {
        var u = charts[k];
        if (u) u.setSize({ width: chartWidth($('chart-' + k)), height: 220 });
      });
    }, 100);
  });

  connect();
})();
`;
