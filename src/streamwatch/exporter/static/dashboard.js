// Streamwatch live dashboard: reads the exporter's event stream (GET /v1/dashboard/stream)
// and draws each section as it arrives. Falls back to polling GET /v1/dashboard every
// second when the stream is refused (503: too many open) or EventSource is missing.
// No dependencies: charts are plain SVG.
"use strict";

(() => {
  const SECTIONS = ["trends", "sentiment", "orders", "fraud", "health"];
  const POLL_MS = 1000;
  const RETRY_STREAM_MS = 30000;
  const SVG = "http://www.w3.org/2000/svg";
  const STATUS_COLOURS = {
    purchased: "var(--purchased)", shipped: "var(--shipped)", delivered: "var(--delivered)",
  };
  // A query whose last progress is older than this is shown as stale.
  const STALE_SECONDS = 60;
  const UPSTREAM_DOWN_SECONDS = 15;

  // Exposed for tests and the latency benchmark: what arrived and when it was drawn.
  const live = { sections: {}, renders: 0, lastRender: {}, transport: "connecting" };
  window.streamwatch = live;

  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat("en-US");
  const fmt1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function signed(v, digits = 2) {
    if (v === null || v === undefined) return "–";
    return (v > 0 ? "+" : "") + v.toFixed(digits);
  }

  function pct(v) {
    return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %";
  }

  // "2026-11-20T10:15:00Z" -> "10:15" (UTC, as the event times are)
  function hhmm(iso) {
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().slice(11, 16);
  }

  function hhmmss(iso) {
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().slice(11, 19);
  }

  function duration(seconds) {
    if (seconds < 120) return fmt1.format(seconds) + " s";
    if (seconds < 7200) return fmt1.format(seconds / 60) + " min";
    return fmt1.format(seconds / 3600) + " h";
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    const s = Math.max(0, seconds);
    if (s < 90) return s.toFixed(0) + " s ago";
    if (s < 5400) return (s / 60).toFixed(0) + " min ago";
    return (s / 3600).toFixed(1) + " h ago";
  }

  // -1 red .. 0 grey .. +1 green
  function sentimentColour(v) {
    if (v === null || v === undefined) return "#9aa5b1";
    const mix = (a, b, t) => Math.round(a + (b - a) * t);
    const grey = [154, 165, 177];
    const end = v >= 0 ? [46, 157, 91] : [214, 69, 69];
    const t = Math.min(1, Math.abs(v) / 0.5);
    return `rgb(${mix(grey[0], end[0], t)},${mix(grey[1], end[1], t)},${mix(grey[2], end[2], t)})`;
  }

  function setPanel(name, hasData, ...content) {
    const panel = $("panel-" + name);
    panel.dataset.state = hasData ? "data" : "empty";
    const body = $(name + "-body");
    if (body) body.replaceChildren(...content);
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // -- charts ------------------------------------------------------------------------
  function barChart(rows) {
    const W = 420, rowH = 22, left = 110, right = 90;
    const H = Math.max(rowH * rows.length + 6, 40);
    const max = Math.max(...rows.map((r) => r.value), 1);
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`,
      preserveAspectRatio: "xMinYMin meet", role: "img" });
    chart.style.height = Math.min(205, H * 0.9 + 20) + "px";
    rows.forEach((r, i) => {
      const y = 3 + i * rowH;
      const w = Math.max(2, ((W - left - right) * r.value) / max);
      const label = svg("text", { x: left - 6, y: y + 15, "text-anchor": "end", class: "label" },
        r.label.length > 16 ? r.label.slice(0, 15) + "…" : r.label);
      label.append(svg("title", {}, r.label));
      chart.append(label);
      chart.append(svg("rect", { x: left, y: y + 3, width: w, height: rowH - 7, rx: 2,
        fill: r.colour }));
      chart.append(svg("text", { x: left + w + 5, y: y + 15 }, r.note));
    });
    return chart;
  }

  // series: [{name, colour, values: [number|null]}], one value per x label
  function lineChart(labels, series, opts = {}) {
    const W = 420, H = 205, L = 44, R = 18, T = 8, B = 22;
    const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
    let lo = opts.min !== undefined ? opts.min : Math.min(0, ...all);
    let hi = opts.max !== undefined ? opts.max : niceMax(Math.max(...all, 0));
    if (hi <= lo) hi = lo + 1;
    const x = (i) => L + (labels.length < 2 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
    const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo);
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
    // 4 or 5 gridlines, whichever puts them on round values (250 -> 50s, not 62.5s)
    const round = (step) => [1, 2, 2.5, 5, 10].includes(
      Number((step / Math.pow(10, Math.floor(Math.log10(step)))).toFixed(6)));
    const ticks = [4, 5, 3].find((t) => round((hi - lo) / t)) || 4;
    for (let k = 0; k <= ticks; k++) {
      const v = lo + ((hi - lo) * k) / ticks;
      chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      chart.append(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" },
        opts.format ? opts.format(v) : fmt1.format(v)));
    }
    if (lo < 0 && hi > 0) {
      chart.append(svg("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "zero" }));
    }
    const every = Math.max(1, Math.ceil(labels.length / 6));
    labels.forEach((label, i) => {
      if (i % every === 0 || i === labels.length - 1) {
        const anchor = i === labels.length - 1 && i > 0 ? "end" : i === 0 ? "start" : "middle";
        chart.append(svg("text", { x: x(i), y: H - 6, "text-anchor": anchor }, label));
      }
    });
    for (const s of series) {
      let d = "";
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        d += (d === "" ? "M" : "L") + x(i).toFixed(1) + "," + y(v).toFixed(1);
      });
      if (d) {
        chart.append(svg("path", { d, fill: "none", stroke: s.colour, "stroke-width": 2 }));
      }
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const dot = svg("circle", { cx: x(i), cy: y(v), r: 3, fill: s.colour });
        dot.append(svg("title", {}, `${s.name} ${labels[i]}: ${opts.format ? opts.format(v) : fmt.format(v)}`));
        chart.append(dot);
      });
    }
    return chart;
  }

  function seriesLegend(series) {
    const box = el("div", { class: "series-legend" });
    for (const s of series) {
      const item = el("span", {}, s.name);
      item.style.color = s.colour;
      box.append(item);
    }
    return box;
  }

  // -- sections ----------------------------------------------------------------------
  const render = {
    trends(doc) {
      if (!doc || !doc.top.length) {
        $("trends-window").textContent = "";
        return setPanel("trends", false, el("p", { class: "empty" }, "no hashtag windows yet"));
      }
      $("trends-window").textContent = `window ${hhmm(doc.window_start)}–${hhmm(doc.window_end)} UTC`;
      const rows = doc.top.map((r) => ({
        label: "#" + r.hashtag, value: r.count, colour: sentimentColour(r.sentiment),
        note: `${fmt.format(r.count)} · ${signed(r.sentiment)}`,
      }));
      setPanel("trends", true, barChart(rows));
    },

    sentiment(rows) {
      if (!rows || !rows.length) {
        return setPanel("sentiment", false, el("p", { class: "empty" }, "no sentiment windows yet"));
      }
      const labels = rows.map((r) => hhmm(r.window_start));
      const series = [{ name: "mean sentiment", colour: "var(--accent)",
        values: rows.map((r) => r.sentiment) }];
      const last = rows[rows.length - 1];
      setPanel("sentiment", true,
        lineChart(labels, series, { min: -1, max: 1, format: (v) => signed(v, 1) }),
        el("p", { class: "legend" },
          `newest window ${hhmm(last.window_start)} UTC: ${signed(last.sentiment)} over ` +
          `${fmt.format(last.tweets)} tweets`));
    },

    orders(doc) {
      if (!doc || !doc.minutes.length) {
        return setPanel("orders", false, el("p", { class: "empty" }, "no order data yet"));
      }
      const labels = doc.minutes.map((m) => hhmm(m.minute_start));
      const series = doc.statuses.map((status) => ({
        name: status, colour: STATUS_COLOURS[status] || "var(--muted)",
        values: doc.minutes.map((m) => (m[status] ? m[status].orders : 0)),
      }));
      const last = doc.minutes[doc.minutes.length - 1];
      const counted = [...doc.statuses, "cancelled", "returned"].filter((s) => last[s]);
      const summary = counted.map((s) => `${s} ${fmt.format(last[s].orders)}`).join(" · ");
      const delays = [["shipped", "to ship"], ["delivered", "to deliver"]]
        .filter(([s]) => last[s] && last[s].since_purchase_s)
        .map(([s, what]) => `${what} p50 ${duration(last[s].since_purchase_s.p50)}, ` +
          `p99 ${duration(last[s].since_purchase_s.p99)}`);
      const notes = [el("p", { class: "legend" },
        `minute ${hhmm(last.minute_start)} UTC: ${summary || "no orders"}`)];
      if (delays.length) {
        notes.push(el("p", { class: "legend" }, `time since purchase: ${delays.join(" · ")}`));
      }
      setPanel("orders", true, lineChart(labels, series), seriesLegend(series), ...notes);
    },

    fraud(doc) {
      const o = doc.overall;
      const hasData = doc.alerts_total > 0 || o.incidents > 0;
      $("panel-fraud").dataset.state = hasData ? "data" : "empty";
      $("fraud-hint").textContent =
        `${fmt.format(doc.alerts_total)} alerts · ${fmt.format(doc.labels_read)} labels read`;
      const tiles = el("div", { class: "tiles" });
      for (const [k, v] of [["precision", o.precision], ["recall", o.recall], ["F1", o.f1]]) {
        tiles.append(el("div", { class: "tile", "data-figure": k.toLowerCase() },
          el("div", { class: "v" }, pct(v)), el("div", { class: "k" }, k)));
      }
      const table = el("table", {}, el("tr", {}, el("th", {}, "scenario"),
        el("th", { class: "num" }, "precision"), el("th", { class: "num" }, "recall"),
        el("th", { class: "num" }, "incidents"), el("th", { class: "num" }, "alerts")));
      for (const [name, s] of Object.entries(doc.by_scenario)) {
        if (!s.alerts && !s.incidents) continue;
        table.append(el("tr", {}, el("td", {}, name), el("td", { class: "num" }, pct(s.precision)),
          el("td", { class: "num" }, pct(s.recall)),
          el("td", { class: "num" }, `${fmt.format(s.detected)}/${fmt.format(s.incidents)}`),
          el("td", { class: "num" }, fmt.format(s.alerts))));
      }
      $("fraud-quality").replaceChildren(tiles, table);

      const feed = $("fraud-feed");
      if (!doc.alerts.length) {
        return feed.replaceChildren(el("p", { class: "empty" }, "no alerts yet"));
      }
      const seen = new Set(Array.from(feed.querySelectorAll("tr[data-id]"), (tr) => tr.dataset.id));
      const first = seen.size === 0;
      const rows = el("table", {}, el("tr", {}, el("th", {}, "detected"), el("th", {}, "severity"),
        el("th", {}, "rule"), el("th", {}, "card"), el("th", { class: "num" }, "score")));
      for (const a of doc.alerts) {
        const tr = el("tr", { "data-id": a.alert_id, title: a.reason || "" },
          el("td", {}, hhmmss(a.detected_at)),
          el("td", {}, el("span", { class: "sev " + a.severity }, a.severity)),
          el("td", {}, a.rule), el("td", {}, a.card_id),
          el("td", { class: "num" }, a.score === null ? "–" : Number(a.score).toFixed(2)));
        if (!first && !seen.has(a.alert_id)) tr.classList.add("new");
        rows.append(tr);
      }
      feed.replaceChildren(rows);
    },

    health(doc) {
      const now = Date.now() / 1000;
      const parts = [];
      if (doc.queries.length) {
        const table = el("table", {}, el("tr", {}, el("th", {}, "Spark query"),
          el("th", { class: "num" }, "batch"), el("th", { class: "num" }, "rows/s"),
          el("th", { class: "num" }, "batch s"), el("th", { class: "num" }, "wm delay"),
          el("th", {}, "last progress")));
        for (const q of doc.queries) {
          const a = now - q.timestamp;
          const rate = q.processed_rows_per_second;
          table.append(el("tr", { "data-query": q.query },
            el("td", {}, el("span", { class: "status " + (a <= STALE_SECONDS ? "ok" : "stale") }), q.query),
            el("td", { class: "num" }, fmt.format(q.batch_id)),
            el("td", { class: "num" }, rate === null ? "–" : fmt.format(Math.round(rate))),
            el("td", { class: "num" }, q.batch_duration_seconds === null ? "–" : q.batch_duration_seconds.toFixed(2)),
            el("td", { class: "num" }, q.watermark_delay_seconds === null ? "–" : fmt1.format(q.watermark_delay_seconds) + " s"),
            el("td", {}, age(a))));
        }
        parts.push(el("h3", {}, "processor (progress posted by each query)"), table);
      } else {
        parts.push(el("p", { class: "empty" }, "no Spark progress yet"));
      }
      const names = { alerts: "alerting service", labels: "labels feed (txn-simulator)" };
      const up = el("table", {}, el("tr", {}, el("th", {}, "upstream"), el("th", {}, "last answer"),
        el("th", { class: "num" }, "polls"), el("th", { class: "num" }, "errors")));
      for (const [name, p] of Object.entries(doc.pollers)) {
        let cls = "off", last = "not configured";
        if (p.url) {
          // polls run every few seconds: no answer for UPSTREAM_DOWN_SECONDS means down
          const since = p.last_success === null ? null : now - p.last_success;
          cls = p.polls === 0 ? "stale" : since === null || since > UPSTREAM_DOWN_SECONDS ? "down" : "ok";
          last = p.polls === 0 ? "not polled yet" : age(since);
        }
        const tr = el("tr", { "data-upstream": name },
          el("td", {}, el("span", { class: "status " + cls }), names[name] || name),
          el("td", {}, last), el("td", { class: "num" }, fmt.format(p.polls)),
          el("td", { class: "num" }, fmt.format(p.errors)));
        up.append(tr);
        if (cls === "down" && p.last_error) {
          up.append(el("tr", {}, el("td", { colspan: 4, class: "error" }, p.last_error)));
        }
      }
      parts.push(el("h3", {}, "upstreams polled by the exporter"), up);
      setPanel("health", doc.queries.length > 0, el("div", { class: "health" }, ...parts));
    },
  };

  function apply(name, data) {
    live.sections[name] = data;
    render[name](data);
    live.renders += 1;
    live.lastRender[name] = performance.timeOrigin + performance.now();
    $("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
  }

  function setTransport(transport, text) {
    live.transport = transport;
    $("connection").dataset.transport = transport;
    $("transport").textContent = text;
  }

  // -- transport ---------------------------------------------------------------------
  let pollTimer = null;
  const lastPolled = {};

  async function pollOnce() {
    try {
      const resp = await fetch("/v1/dashboard", { cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const doc = await resp.json();
      for (const name of SECTIONS) {
        const text = JSON.stringify(doc[name]);
        if (lastPolled[name] !== text) {
          lastPolled[name] = text;
          apply(name, doc[name]);
        }
      }
      setTransport("polling", "live (polling every second)");
    } catch (err) {
      setTransport("reconnecting", "exporter unreachable, retrying");
    }
  }

  function poll() {
    if (pollTimer !== null) return;
    pollOnce();
    pollTimer = setInterval(pollOnce, POLL_MS);
    // the stream may have a free slot again later
    setTimeout(() => { clearInterval(pollTimer); pollTimer = null; stream(); }, RETRY_STREAM_MS);
  }

  function stream() {
    if (!window.EventSource) return poll();
    const source = new EventSource("/v1/dashboard/stream");
    for (const name of SECTIONS) {
      source.addEventListener(name, (e) => apply(name, JSON.parse(e.data)));
    }
    source.onopen = () => setTransport("live", "live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // refused (e.g. 503: all stream slots taken): poll instead
        source.close();
        poll();
      } else {
        setTransport("reconnecting", "reconnecting…");
      }
    };
  }

  // ages ("12 s ago") move on between updates
  setInterval(() => { if (live.sections.health) render.health(live.sections.health); }, 1000);
  stream();
})();
