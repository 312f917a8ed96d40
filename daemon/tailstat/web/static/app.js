/* tailstat live page: polls the daemon's JSON API with relative URLs (works under a path prefix) once a second
   while the tab is visible, and renders it. No data is in the page itself; a static report (scan --html) inlines
   one document in a JSON script element (id tailstat-report) instead. Every log-derived string is set
   with textContent, never parsed as HTML. */
(() => {
  "use strict";

  const WINDOWS = ["1m", "5m", "15m", "1h", "24h", "all"];
  const WINDOW_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "24h": 86400 };
  const NEW_FOR_ALL = 3600; // window "all": a pattern first seen in the last hour is marked new
  const ALL_CHART_MINUTES = 180; // window "all": the chart shows the latest 3 hours of minutes that hold data
  const TOKEN_KEY = "tailstat-token";
  const PERIOD = 1000;
  const COST_FACTOR = 5;
  const TOP = 10;
  const MAX_FILES = 200;
  const CLASS_COLORS = {
    "2xx": "#16a34a", "3xx": "#2563eb", "4xx": "#d97706", "5xx": "#dc2626", "1xx": "#64748b",
    emerg: "#7f1d1d", alert: "#991b1b", crit: "#b91c1c", critical: "#b91c1c", fatal: "#7f1d1d",
    error: "#dc2626", err: "#dc2626", warning: "#d97706", warn: "#d97706", notice: "#0891b2",
    info: "#2563eb", debug: "#64748b", trace: "#94a3b8", other: "#a855f7",
  };
  const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];
  const PCT_COLORS = { p50: "#2563eb", p90: "#d97706", p99: "#dc2626" };

  const state = {
    window: "all", token: null, timer: null, gen: 0, report: null, needToken: false,
    windows: null, series: null, // null: not known yet; true/false once the daemon has answered
    seriesRefused: {}, charts: {}, measureNames: new Set(), last: null, lastSeries: null, shown: false, failures: 0,
  };

  const $ = (id) => document.getElementById(id);
  const nf = new Intl.NumberFormat();
  const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const nf3 = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
  const nfRate = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const pf = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
  const num = (n) => (n === null || n === undefined || Number.isNaN(n) ? "–" : nf.format(n));
  const rate = (n) => (n === null || n === undefined || !Number.isFinite(n) ? "–" : nfRate.format(n)); // lines/s
  const dec = (n) => (n === null || n === undefined ? "–" : Math.abs(n) >= 1000 ? nf.format(Math.round(n)) : nf3.format(n));
  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? nf1.format(n) : nf.format(n)) + " " + units[i];
  }
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 90) return nf.format(Math.round(seconds)) + " s ago";
    if (seconds < 5400) return nf.format(Math.round(seconds / 60)) + " min ago";
    if (seconds < 172800) return nf1.format(seconds / 3600) + " h ago";
    return nf1.format(seconds / 86400) + " days ago";
  }
  const utcMinute = (epoch) => new Date(epoch * 1000).toISOString().slice(0, 16).replace("T", " ");
  const clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString();

  // ------------------------------------------------------------------------------------------ DOM helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function table(columns, rows, label) {
    const head = el("tr", null, ...columns.map((c) => el("th", { className: c.num ? "num" : null, scope: "col", text: c.title })));
    const body = el("tbody", null, ...rows.map((r) => el("tr", null, ...r)));
    return el("div", { className: "scroll", tabindex: "0", "aria-label": label, role: "region" },
      el("table", null, el("thead", null, head), body));
  }
  const td = (text, cls, title) => el("td", { className: cls, text, title });
  const tdNum = (text, title) => td(text, "num", title);
  function swap(container, ...nodes) { container.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined)); }

  // ---------------------------------------------------------------------------------------------- status
  function setStatus(kind, text) { const s = $("status"); s.className = kind; s.textContent = text; }
  function notice(text) { const n = $("notice"); n.textContent = text || ""; n.hidden = !text; }

  // ------------------------------------------------------------------------------------------------ data
  async function getJSON(url) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const r = await fetch(url, { headers, cache: "no-store", credentials: "same-origin", redirect: "error" });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    return { status: r.status, body };
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.report || state.needToken || document.hidden) return;
    state.timer = setTimeout(tick, delay);
  }

  async function tick() {
    state.timer = null;
    if (document.hidden || state.needToken || state.report) return;
    const gen = ++state.gen;
    const started = performance.now();
    const win = state.window;
    try {
      const query = "stats?top=" + TOP + (state.windows === false ? "" : "&window=" + encodeURIComponent(win));
      const seriesUrl = "stats/series?window=" + encodeURIComponent(win) + "&fields=class";
      const wantSeries = () => state.windows === true && state.series !== false && win !== "all" && !state.seriesRefused[win];
      // both requests go out together (unless the daemon is known to lack windows or series)
      const early = state.windows !== false && state.series !== false && win !== "all" && !state.seriesRefused[win]
        ? getJSON(seriesUrl).catch(() => null) : null;
      const r = await getJSON(query);
      if (gen !== state.gen) return; // the window changed meanwhile: a newer tick is running
      if (r.status === 401) { askToken(state.token ? "The daemon did not accept this token." : ""); return; }
      if (r.status === 400 && win !== "all") {
        const accepted = r.body && r.body.accepted ? " (accepted: " + r.body.accepted.join(", ") + ")" : "";
        notice("The daemon refused window " + win + ": " + ((r.body && r.body.error) || "400") + accepted + ". Showing all.");
        selectWindow("all", false);
        return tick();
      }
      if (r.status !== 200 || !r.body) throw new Error("HTTP " + r.status + ((r.body && r.body.error) ? ": " + r.body.error : ""));
      const doc = r.body;
      learnWindows(doc);
      let series = null;
      // "all" has no series (unbounded): its chart is the event-time minutes of the document itself
      if (wantSeries()) {
        const s = (await (early || getJSON(seriesUrl).catch(() => null))) || { status: 0, body: null };
        if (gen !== state.gen) return;
        if (s.status === 200 && s.body) { state.series = true; series = s.body; }
        else if (s.status === 404) {
          state.series = false;
          notice("The daemon has no /stats/series (HTTP 404): charts show per-minute event-time counts from /stats instead.");
        } else if (s.status === 400) {
          state.seriesRefused[win] = true;
          notice("The daemon refused the series of window " + win + ": " + ((s.body && s.body.error) || "400") +
            ". Charts show per-minute event-time counts from /stats instead.");
        }
      }
      state.failures = 0;
      render(doc, series);
      setStatus("live", "live · updated " + clock(doc.generated_at));
    } catch (e) {
      if (gen !== state.gen) return;
      state.failures++;
      setStatus(state.last ? "stale" : "error", "daemon not answering (" + e.message + "), retrying" +
        (state.last ? " · showing data of " + clock(state.last.generated_at) : ""));
    }
    // once a second; a window that is costly for the daemon to compute is asked for less often, so that one
    // page never keeps the daemon busy more than about a fifth of the time
    const took = performance.now() - started;
    schedule(Math.max(0, Math.max(PERIOD, COST_FACTOR * took) - took) + Math.min(state.failures, 5) * 1000);
  }

  function learnWindows(doc) {
    if ("window" in doc) {
      if (state.windows !== true) { state.windows = true; enableWindows(true); }
      return;
    }
    if (state.windows !== false) {
      state.windows = false;
      enableWindows(false);
      notice("This daemon does not offer time windows (GET /stats?window=): everything shown is all-time.");
    }
  }

  // ----------------------------------------------------------------------------------------- window UI
  function enableWindows(on) {
    for (const b of document.querySelectorAll("#windows button")) {
      b.disabled = !on && b.dataset.window !== "all";
      b.title = b.disabled ? "this daemon has no time windows" : "";
    }
    if (!on) selectWindow("all", false);
  }
  function selectWindow(w, refresh) {
    state.window = w;
    for (const b of document.querySelectorAll("#windows button")) b.setAttribute("aria-pressed", String(b.dataset.window === w));
    if (refresh) { writeFragment(w); state.gen++; clearTimeout(state.timer); tick(); }
  }

  // ---------------------------------------------------------------------------------------------- token
  function askToken(message) {
    state.needToken = true;
    clearTimeout(state.timer);
    state.last = null;
    $("stats").hidden = true;
    for (const key of Object.keys(state.charts)) { state.charts[key].plot.destroy(); delete state.charts[key]; }
    const form = $("token-form");
    form.hidden = false;
    $("token-error").textContent = message || "";
    setStatus("error", "needs the access token");
    $("token-input").focus();
  }
  function useToken(token) {
    state.token = token || null;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lives in this page only */ }
  }
  // The fragment (never sent to the server) may hold token=… and window=…; the token is taken out of the
  // address bar at once (history, bookmarks, screenshots), the window stays so that a view can be shared.
  function readFragment() {
    const params = new Map();
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      const at = part.indexOf("=");
      if (at > 0) { try { params.set(part.slice(0, at), decodeURIComponent(part.slice(at + 1))); } catch (e) { /* bad escape */ } }
    }
    const token = params.has("token") ? params.get("token") : null;
    const win = params.get("window");
    if (token !== null) writeFragment(WINDOWS.includes(win) ? win : "all");
    return { token, window: WINDOWS.includes(win) ? win : null };
  }
  function writeFragment(win) {
    history.replaceState(null, "", location.pathname + location.search + (win && win !== "all" ? "#window=" + win : ""));
  }

  // --------------------------------------------------------------------------------------------- render
  function render(doc, series) {
    state.last = doc;
    state.lastSeries = series;
    $("token-form").hidden = true;
    $("stats").hidden = false; // before the charts: they take their width from the laid-out panel
    const t = doc.totals;
    $("total-lines").textContent = num(t.lines);
    $("total-parsed").textContent = num(t.parsed);
    $("total-errors").textContent = num(t.parse_errors);
    $("total-bytes").textContent = bytes(t.bytes);
    $("total-bytes").title = num(t.bytes) + " bytes";
    $("total-dropped").textContent = num(t.dropped_lines);
    renderRates(doc);
    const win = doc.window || (state.report ? "all" : state.window);
    $("window-label").textContent = doc.window ? "· window " + doc.window : (state.windows === false ? "· all-time" : "");
    renderRateChart(doc, series, win);
    renderFields(doc);
    renderMeasures(doc, series, win);
    renderPatterns(doc, win);
    renderFiles(doc);
    renderHealth(doc);
    renderSamples(doc);
    if (!state.shown) {
      state.shown = true;
      performance.mark("tailstat-data");
      document.body.dataset.ready = "1";
    }
    document.body.dataset.generated = String(doc.generated_at);
  }

  // A chosen window shows its own rate (its lines over its span, as its chart does); window "all" shows the
  // rates at which the daemon read lines over the last 1/5/15 minutes of wall-clock time, labelled as such.
  function renderRates(doc) {
    const windowed = doc.window && doc.window !== "all" && doc.window_seconds;
    ["1m", "5m", "15m"].forEach((w, i) => {
      const card = $("rate-" + w).parentElement;
      if (windowed) {
        card.hidden = i > 0;
        $("rate-" + w + "-label").textContent = "Lines/s (" + doc.window + " window)";
        $("rate-" + w).textContent = i ? "–" : rate(doc.totals.lines / doc.window_seconds);
      } else {
        card.hidden = Boolean(state.report); // a scan's wall-clock rates say nothing about the logs
        const r = doc.rates && doc.rates[w];
        $("rate-" + w + "-label").textContent = "Lines/s read (" + w + ")";
        $("rate-" + w).textContent = r ? rate(r.lines) : "–";
      }
    });
  }

  function classColor(name, i) { return CLASS_COLORS[String(name).toLowerCase()] || PALETTE[i % PALETTE.length]; }

  function renderRateChart(doc, series, win) {
    let xs, cols, labels, note = "";
    if (series && series.t && series.fields && series.fields.class) {
      const f = series.fields.class;
      const step = series.step || 60;
      labels = [...f.values];
      cols = labels.map((v) => (f.counts[v] || []).map((c) => (c === null ? null : c / step)));
      if (f.other && f.other.some((c) => c)) { labels.push("other"); cols.push(f.other.map((c) => (c === null ? null : c / step))); }
      if (!labels.length) { labels = ["lines"]; cols = [series.lines.map((c) => (c === null ? null : c / step))]; }
      xs = series.t;
      note = "lines/s per " + dec(step) + " s step, window " + series.window;
    } else {
      let older;
      ({ xs, cols, labels, older } = minutesSeries(doc.minutes || [], win, doc.generated_at));
      note = state.report
        ? "lines/s per minute of the logs' own time (newest minutes kept by the scan)"
        : "lines/s per minute of the logs' own time, from /stats minutes" +
          (state.series === false ? " (the daemon has no /stats/series)" : state.seriesRefused[win] ? " (series refused)" : "");
      if (older) {
        note += " · the latest 3 h that hold data, " + utcMinute(xs[0]) + " – " + utcMinute(xs[xs.length - 1]) +
          " UTC; " + nf.format(older) + (older === 1 ? " older minute" : " older minutes") + " with data not shown";
      }
    }
    $("chart-note").textContent = xs.length ? note : "no lines in this window yet · " + note;
    chart("rate", $("rate-chart"), labels, labels.map(classColor), [xs, ...cols], 220, rate, dec);
  }

  // The document's per-minute event-time counts as chart columns: a window's minutes, or for "all" the latest
  // ALL_CHART_MINUTES up to the newest minute with data (sample logs may hold minutes years apart); `older`: how
  // many minutes with data were left out. A minute without lines is a gap (null), never a line across it.
  function minutesSeries(minutes, win, now) {
    let rows = minutes;
    let older = 0;
    if (WINDOW_SECONDS[win]) rows = rows.filter((m) => m.minute * 60 >= (now || Date.now() / 1000) - WINDOW_SECONDS[win]);
    else if (rows.length) {
      const last = rows[rows.length - 1].minute;
      const kept = rows.filter((m) => m.minute > last - ALL_CHART_MINUTES);
      older = rows.length - kept.length;
      rows = kept;
    }
    const classes = [];
    for (const m of rows) for (const k of Object.keys(m)) if (k !== "minute" && k !== "lines" && !classes.includes(k)) classes.push(k);
    classes.sort();
    if (!classes.length) classes.push("lines");
    // missing minutes (when the span is small enough to draw) are null: no line is drawn across them
    const byMinute = new Map(rows.map((m) => [m.minute, m]));
    let keys = rows.map((m) => m.minute);
    if (keys.length > 1 && keys[keys.length - 1] - keys[0] <= 1440) {
      keys = [];
      for (let m = rows[0].minute; m <= rows[rows.length - 1].minute; m++) keys.push(m);
    }
    const xs = keys.map((m) => m * 60);
    const cols = classes.map((c) => keys.map((m) => { const r = byMinute.get(m); return r ? (r[c] || 0) / 60 : null; }));
    return { xs, cols, labels: classes, older };
  }

  // a value between two gaps (null) draws no line segment: draw it as a dot
  function isolated(u, si, show) {
    if (show) return null;
    const d = u.data[si];
    const out = [];
    for (let i = 0; i < d.length; i++) {
      if (d[i] !== null && d[i] !== undefined && (i === 0 || d[i - 1] === null) && (i === d.length - 1 || d[i + 1] === null)) out.push(i);
    }
    return out.length ? out : null;
  }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  // fmtY: the legend's values; fmtAxis: the y axis' ticks (finer steps than one decimal need their digits)
  function chart(key, container, labels, colors, data, height, fmtY, fmtAxis = fmtY) {
    if (typeof uPlot === "undefined") { container.textContent = "chart library not loaded"; return; }
    const sig = labels.join("\u0000");
    let c = state.charts[key];
    if (c && (c.sig !== sig || !container.contains(c.plot.root))) { c.plot.destroy(); c = null; }
    const width = Math.max(240, container.clientWidth || 600);
    // what is drawn, for a reader of the DOM (and the tests): points on the x axis, gaps (nulls) in the first line
    container.dataset.points = String(data[0].length);
    container.dataset.gaps = String(data.length > 1 ? data[1].filter((v) => v === null || v === undefined).length : 0);
    if (!c) {
      const axis = { stroke: cssVar("--dim"), grid: { stroke: cssVar("--line"), width: 1 }, ticks: { stroke: cssVar("--line") } };
      const opts = {
        width, height,
        series: [{}, ...labels.map((l, i) => ({ label: l, stroke: colors[i], width: 1.5, points: { show: false, filter: isolated },
          value: (u, v) => (v === null || v === undefined ? "–" : fmtY(v)) }))],
        axes: [{ ...axis }, { ...axis, size: 60, values: (u, vals) => vals.map((v) => fmtAxis(v)) }],
        scales: { x: { time: true } },
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
      };
      container.replaceChildren();
      c = { plot: new uPlot(opts, data, container), sig };
      state.charts[key] = c;
    } else {
      c.plot.setData(data);
      if (Math.abs(c.plot.width - width) > 2) c.plot.setSize({ width, height });
    }
  }

  function renderFields(doc) {
    const cards = [];
    for (const [name, f] of Object.entries(doc.fields || {})) {
      const total = f.total || 0;
      const maxCount = f.top.length ? f.top[0][1] : 0;
      const rows = f.top.map(([value, count]) => [
        td(value === "" ? "(empty)" : value, "value"),
        tdNum(num(count)),
        tdNum(total ? pf.format(count / total) : "–"),
        el("td", { className: "barcell" }, barOf(maxCount ? count / maxCount : 0)),
      ]);
      const meta = num(f.distinct) + (f.distinct_is_estimate ? " distinct (estimate)" : " distinct") + " · " + num(total) + " lines";
      const exact = f.top_is_exact ? null : el("p", { className: "note", text: "counts are lower bounds; each at most " + num(f.top_error) + " below the true count" });
      cards.push(el("div", { className: "field", "data-field": name },
        el("h3", null, name + " ", el("span", { className: "dim", text: meta })), exact,
        table([{ title: "value" }, { title: "count", num: true }, { title: "share", num: true }, { title: "" }], rows, "top values of " + name)));
    }
    swap($("fields"), ...(cards.length ? cards : [el("p", { className: "note", text: "no dimensions yet" })]));
  }
  function barOf(frac) {
    const bar = el("div", { className: "bar" });
    bar.style.width = (Math.max(0, Math.min(1, frac)) * 100).toFixed(1) + "%";
    return bar;
  }

  function renderMeasures(doc, series, win) {
    const measures = Object.entries(doc.measures || {});
    const rows = measures.map(([name, m]) => [td(name, "value"), tdNum(num(m.count)), tdNum(dec(m.p50)), tdNum(dec(m.p90)),
      tdNum(dec(m.p99)), tdNum(dec(m.max)), tdNum(dec(m.mean))]);
    const box = $("measures");
    for (const [name] of measures) state.measureNames.add(name);
    if (!measures.length) {
      // a window's document lists only the measures that have values in it; the page remembers those it has seen
      const known = [...state.measureNames].sort();
      const text = doc.window && doc.window !== "all"
        ? "no measure data in this window" + (known.length ? " (" + known.join(", ") + ")" : "")
        : known.length ? "no measure data (" + known.join(", ") + ")"
          : "no measures configured (TAILSTAT_MEASURES), or no parsed line has carried one yet";
      swap(box, el("p", { className: "note", text }));
      return;
    }
    let tableBox = box.querySelector(":scope > .scroll");
    const fresh = table([{ title: "measure" }, { title: "count", num: true }, { title: "p50", num: true }, { title: "p90", num: true },
      { title: "p99", num: true }, { title: "max", num: true }, { title: "mean", num: true }], rows, "measures now");
    if (tableBox) tableBox.replaceWith(fresh); else box.prepend(fresh);
    let charts = box.querySelector(":scope > .measure-charts");
    const sm = series && series.measures;
    if (!sm) {
      if (charts) { charts.remove(); }
      let n = box.querySelector(":scope > .note");
      if (!n) { n = el("p", { className: "note" }); box.append(n); }
      n.textContent = state.report ? ""
        : state.windows && state.series !== false && win === "all" ? "p50/p90/p99 over time: choose a window (1m … 24h)."
          : "p50/p90/p99 over time need the daemon's /stats/series.";
      return;
    }
    const note = box.querySelector(":scope > .note");
    if (note) note.remove();
    if (!charts) { charts = el("div", { className: "measure-charts" }); box.append(charts); }
    const names = Object.keys(sm).slice(0, 6);
    for (const node of [...charts.children]) if (!names.includes(node.dataset.measure)) node.remove();
    for (const name of names) {
      let holder = charts.querySelector('[data-measure="' + CSS.escape(name) + '"]');
      if (!holder) {
        holder = el("div", { "data-measure": name }, el("h3", { text: name + " p50 / p90 / p99" }), el("div", { className: "chart" }));
        charts.append(holder);
      }
      const labels = ["p50", "p90", "p99"].filter((p) => sm[name][p]);
      chart("m:" + name, holder.querySelector(".chart"), labels, labels.map((p) => PCT_COLORS[p]),
        [series.t, ...labels.map((p) => sm[name][p])], 160, (v) => dec(v));
    }
  }

  function renderPatterns(doc, win) {
    const panel = $("patterns-panel");
    // no list (a daemon before patterns) or an empty one (no `text` source): nothing to show
    if (!Array.isArray(doc.patterns) || !doc.patterns.length) { panel.hidden = true; return; }
    panel.hidden = false;
    const since = (doc.generated_at || Date.now() / 1000) - (WINDOW_SECONDS[win] || NEW_FOR_ALL);
    const list = [...doc.patterns].sort((a, b) => (b.count || 0) - (a.count || 0)).slice(0, 50);
    const total = list.reduce((s, p) => s + (p.count || 0), 0);
    const rows = list.map((p) => {
      const fresh = p.first_seen >= since;
      const cell = el("td", { className: "value mono" }, p.template);
      if (fresh) cell.append(el("span", { className: "badge new", text: "new" }));
      return [cell, td(p.source || "", null), tdNum(num(p.count)), tdNum(total ? pf.format((p.count || 0) / total) : "–"),
        td(p.first_seen ? ago(doc.generated_at - p.first_seen) : "–", "num", p.first_seen ? new Date(p.first_seen * 1000).toLocaleString() : null)];
    });
    const newCount = list.filter((p) => p.first_seen >= since).length;
    const what = WINDOW_SECONDS[win] ? "in this window" : "in the last hour";
    swap($("patterns"), el("p", { className: "note", text: nf.format(doc.patterns.length) + " patterns · " + nf.format(newCount) + " new " + what }),
      table([{ title: "template" }, { title: "source" }, { title: "count", num: true }, { title: "share", num: true }, { title: "first seen", num: true }], rows, "message patterns"));
  }

  function statusBadge(status) {
    const cls = status === "live" ? "ok" : /unread|error|gone|missing/.test(status || "") ? "bad" : "warn";
    return el("span", { className: "badge " + cls, text: status || "?" });
  }

  function renderFiles(doc) {
    const files = doc.files || [];
    const rows = files.slice(0, MAX_FILES).map((f) => [
      td(f.path, "value mono"), td(f.format || "", null), el("td", null, statusBadge(f.status)),
      tdNum(num(f.lines)), tdNum(bytes(f.bytes), num(f.bytes) + " bytes"), tdNum(bytes(f.lag_bytes), num(f.lag_bytes) + " bytes"),
      tdNum(num(f.rotations)), tdNum(num(f.truncations)), tdNum(num(f.parse_errors)),
      tdNum(f.skipped_at_start ? bytes(f.skipped_at_start) : "–", f.skipped_at_start ? num(f.skipped_at_start) + " bytes existed at the first start and were skipped (TAILSTAT_READ_FROM=end)" : null),
    ]);
    const more = files.length > MAX_FILES ? el("p", { className: "note", text: "and " + nf.format(files.length - MAX_FILES) + " more files" }) : null;
    swap($("files"), table([{ title: "path" }, { title: "format" }, { title: "status" }, { title: "lines", num: true },
      { title: "bytes", num: true }, { title: "lag", num: true }, { title: "rotations", num: true }, { title: "truncations", num: true },
      { title: "parse errors", num: true }, { title: "skipped at start", num: true }], rows, "files"), more);
  }

  function renderHealth(doc) {
    const h = doc.health || {};
    const c = doc.checkpoint || {};
    const pairs = [];
    if (h.queue_capacity !== undefined) pairs.push(["queue", num(h.queue_depth) + " / " + num(h.queue_capacity) + " batches"]);
    if (h.open_files !== undefined) pairs.push(["open / tracked files", num(h.open_files) + " / " + num(h.tracked_files)]);
    if (c.ok !== undefined && !state.report) {
      const when = c.last_success ? "last written " + ago(doc.generated_at - c.last_success) : "not written yet";
      pairs.push(["checkpoint", (c.ok === false ? "FAILING: " + (c.error || "?") + " · " : "ok · ") + when +
        (c.failures ? " · " + num(c.failures) + " failures" : "")]);
    }
    pairs.push(["unreadable files", num(h.unreadable_files || 0) + ((doc.unreadable || []).length ? ": " + doc.unreadable.join(", ") : "")]);
    const dropped = Object.entries(doc.dropped || {});
    pairs.push(["dropped", dropped.length ? dropped.map(([r, d]) => r + " " + num(d.lines) + " lines / " + bytes(d.bytes)).join(" · ") : "nothing"]);
    const errors = Object.entries(doc.errors || {}).sort((a, b) => b[1] - a[1]);
    pairs.push(["parse errors by reason", errors.length ? errors.map(([r, n]) => r + " " + num(n)).join(" · ") : "none"]);
    const skipped = Object.entries(doc.skipped_measures || {});
    if (skipped.length) pairs.push(["skipped measure values", skipped.map(([r, n]) => r + " " + num(n)).join(" · ")]);
    if (h.batches !== undefined) pairs.push(["parsed batches", num(h.batches) + " in " + nf1.format(h.parse_seconds || 0) + " s"]);
    if (doc.uptime !== undefined && !state.report) pairs.push(["uptime", ago(doc.uptime).replace(" ago", "")]);
    if (doc.daemon) pairs.push(["daemon", "tailstat " + doc.daemon.version + " · pid " + doc.daemon.pid]);
    const dl = el("dl", { className: "kv" });
    for (const [k, v] of pairs) {
      const dd = el("dd", { text: v });
      if ((k === "checkpoint" && c.ok === false) || (k === "unreadable files" && h.unreadable_files)) dd.className = "error";
      dl.append(el("dt", { text: k }), dd);
    }
    swap($("health"), dl);
  }

  function renderSamples(doc) {
    const samples = [...(doc.error_samples || [])].reverse(); // newest first
    swap($("samples"), samples.length
      ? el("ol", { className: "samples" }, ...samples.map((s) => el("li", null, el("pre", { text: s }))))
      : el("p", { className: "note", text: "no unparseable lines" }));
  }

  // ------------------------------------------------------------------------------------------------ start
  function rerenderCharts() {
    for (const key of Object.keys(state.charts)) { state.charts[key].plot.destroy(); delete state.charts[key]; }
    if (state.last) render(state.last, state.lastSeries);
  }

  function start() {
    for (const b of document.querySelectorAll("#windows button")) {
      b.addEventListener("click", () => { if (!b.disabled && b.dataset.window !== state.window) { notice(""); selectWindow(b.dataset.window, true); } });
    }
    let resizeTimer = null;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => state.last && render(state.last, state.lastSeries), 150); });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", rerenderCharts);

    const inline = $("tailstat-report");
    if (inline) {
      state.report = JSON.parse(inline.textContent);
      $("windows").hidden = true;
      const r = state.report;
      setStatus("", "static report · " + new Date(r.generated_at * 1000).toLocaleString() + " · " + (r.title || ""));
      render(r.doc, r.series || null);
      return;
    }
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("token-input").value.trim();
      if (!value) return;
      useToken(value);
      $("token-input").value = "";
      state.needToken = false;
      $("token-form").hidden = true;
      setStatus("", "checking the token…");
      tick();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(state.timer);
        state.timer = null;
        state.gen++; // a request in flight is not rendered
        if (!state.needToken) setStatus("paused", "paused while the tab is hidden");
      } else if (!state.needToken) {
        tick();
      }
    });
    const fragment = readFragment();
    if (fragment.token) useToken(fragment.token);
    else { try { state.token = sessionStorage.getItem(TOKEN_KEY); } catch (e) { state.token = null; } }
    if (fragment.window) selectWindow(fragment.window, false);
    tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
