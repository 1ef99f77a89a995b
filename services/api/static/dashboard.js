// The pipeline page: polls /v1/dashboard/summary and draws it. No dependencies, no build step.
"use strict";

(() => {
  const REFRESH_MS = 3000;
  const KEY_STORAGE = "ingest.apiKey";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_SAMPLES = 200;
  const backlogSamples = [];
  let lastSummary = null;

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
    if (seconds < 120) return `${seconds.toFixed(1)} s`;
    return `${(seconds / 60).toFixed(1)} min`;
  }

  function formatAgo(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return `${Math.round(seconds)} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return new Date(iso).toLocaleDateString();
  }

  function niceCeiling(value) {
    if (value <= 4) return 4;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  // Draw line series sized to the element, so text is never stretched.
  function drawChart(svg, series, xLabels) {
    const width = svg.clientWidth || 600;
    const height = svg.clientHeight || 180;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    const left = 40, right = 8, top = 8, bottom = 20;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const longest = Math.max(2, ...series.map((s) => s.values.length));
    const peak = niceCeiling(Math.max(0, ...series.flatMap((s) => s.values)));
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotHeight * (1 - fraction);
      svg.append(svgEl("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid-line" }));
      svg.append(svgEl("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis-label" },
        String(Math.round(peak * fraction))));
    }
    xLabels.forEach((label, index) => {
      const x = left + (plotWidth * index) / Math.max(1, xLabels.length - 1);
      const anchor = index === 0 ? "start" : index === xLabels.length - 1 ? "end" : "middle";
      svg.append(svgEl("text", { x, y: height - 4, "text-anchor": anchor, class: "axis-label" }, label));
    });
    for (const { values, className } of series) {
      if (values.length === 0) continue;
      const points = values.map((value, index) => {
        const x = left + (plotWidth * index) / (longest - 1);
        const y = top + plotHeight * (1 - value / peak);
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      });
      svg.append(svgEl("polyline", { points: points.join(" "), class: `series ${className}` }));
    }
  }

  function setCount(id, value) {
    const node = $(id);
    node.textContent = value === null || value === undefined ? "?" : value.toLocaleString();
    node.classList.toggle("zero", value === 0);
  }

  function renderCounts(summary) {
    for (const status of ["queued", "processing", "processed"]) {
      setCount(`count-${status}`, summary.counts[status] ?? 0);
    }
    // Failures a retry may fix; documents set aside are listed on their own.
    setCount("count-failed", summary.failed_count ?? summary.counts.failed ?? 0);
    setCount("queue-length", summary.queue_length);
    const latency = summary.feed_latency;
    $("feed-latency").textContent = latency.count
      ? `${formatSeconds(latency.p50_seconds)} / ${formatSeconds(latency.p95_seconds)}`
      : "no data yet";
  }

  function renderThroughput(summary) {
    const points = summary.throughput;
    const minutes = (points.length * summary.bucket_seconds) / 60;
    drawChart($("throughput-chart"), [
      { values: points.map((p) => p.received), className: "received" },
      { values: points.map((p) => p.processed), className: "processed" },
    ], [`−${minutes} min`, `−${minutes / 2} min`, "now"]);
  }

  function renderBacklog(summary) {
    const counts = summary.counts;
    backlogSamples.push({
      at: Date.now(),
      backlog: (counts.queued || 0) + (counts.processing || 0),
      queue: summary.queue_length ?? 0,
    });
    if (backlogSamples.length > MAX_SAMPLES) backlogSamples.shift();
    drawBacklog();
  }

  function drawBacklog() {
    if (backlogSamples.length === 0) return;
    const span = Math.round((Date.now() - backlogSamples[0].at) / 1000);
    drawChart($("backlog-chart"), [
      { values: backlogSamples.map((s) => s.backlog), className: "backlog" },
      { values: backlogSamples.map((s) => s.queue), className: "queue" },
    ], [span ? `−${span} s` : "", "now"]);
  }

  function emptyRow(columns, text) {
    const row = el("tr", "empty");
    const cell = el("td", "", text);
    cell.colSpan = columns;
    row.append(cell);
    return row;
  }

  function renderStages(summary) {
    const peak = Math.max(1e-9, ...summary.stages.map((s) => s.p95_seconds || 0));
    const rows = summary.stages.map((stage) => {
      const row = el("tr");
      row.append(el("td", "", stage.stage), el("td", "num", formatSeconds(stage.p50_seconds)),
        el("td", "num", formatSeconds(stage.p95_seconds)));
      const meterCell = el("td", "bar-cell");
      const meter = el("div", "meter");
      const p95 = el("span", "p95");
      const p50 = el("span", "p50");
      p95.style.width = `${(100 * (stage.p95_seconds || 0)) / peak}%`;
      p50.style.width = `${(100 * (stage.p50_seconds || 0)) / peak}%`;
      meter.append(p95, p50);
      meterCell.append(meter);
      row.append(meterCell, el("td", "num", stage.count.toLocaleString()));
      return row;
    });
    $("stages").replaceChildren(...rows);
  }

  function renderStories(summary) {
    const rows = summary.stories.map((story) => {
      const row = el("tr");
      row.dataset.storyId = story.id;
      const title = el("td", "title-cell", story.title || "(untitled)");
      title.title = story.title || story.id;
      row.append(title, languageCell(story.languages), el("td", "num", story.members),
        el("td", "nowrap", formatAgo(story.updated_at)));
      return row;
    });
    $("stories").replaceChildren(...(rows.length ? rows : [emptyRow(4, "No stories yet.")]));
  }

  // The first language and how many more ("EN +11"); every one on hover.
  function languageCell(languages) {
    const cell = el("td", "langs");
    if (languages.length === 0) return cell;
    cell.append(el("span", "lang", languages[0]));
    if (languages.length > 1) {
      const more = el("span", "lang more", `+${languages.length - 1}`);
      more.setAttribute("aria-label", `${languages.length - 1} more languages`);
      cell.append(more);
    }
    cell.title = languages.map((code) => code.toUpperCase()).join(" · ");
    return cell;
  }

  function documentCell(doc) {
    const cell = el("td", "doc-cell");
    const id = el("div", "id", doc.id.slice(0, 8));
    id.title = doc.id;
    cell.append(id);
    if (doc.title || doc.source) {
      const label = el("div", "muted clip", doc.title || doc.source);
      label.title = doc.title || doc.source;
      cell.append(label);
    }
    return cell;
  }

  function renderSetAside(summary) {
    const rows = (summary.set_aside || []).map((doc) => {
      const row = el("tr");
      row.dataset.documentId = doc.id;
      const quality = el("td", "");
      quality.append(el("span", "quality", doc.quality));
      row.append(documentCell(doc), quality, el("td", "reason", doc.reason || ""),
        el("td", "nowrap", formatAgo(doc.updated_at)));
      return row;
    });
    $("set-aside").replaceChildren(...(rows.length ? rows : [emptyRow(4, "Nothing set aside.")]));
  }

  function renderFailed(summary) {
    const rows = summary.failed.map((doc) => {
      const row = el("tr");
      row.dataset.documentId = doc.id;
      const idCell = documentCell(doc);
      const button = el("button", "", "Retry");
      button.type = "button";
      button.dataset.documentId = doc.id;
      button.addEventListener("click", () => retry(doc.id, button));
      const action = el("td", "num");
      action.append(button);
      row.append(idCell, el("td", "error", doc.error || ""), el("td", "num", doc.deliveries),
        el("td", "nowrap", formatAgo(doc.updated_at)), action);
      return row;
    });
    $("failed").replaceChildren(...(rows.length ? rows : [emptyRow(5, "No failed documents.")]));
  }

  function headers() {
    const key = localStorage.getItem(KEY_STORAGE);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function flash(text, bad) {
    const node = $("flash");
    node.textContent = text;
    node.classList.toggle("bad", Boolean(bad));
    node.hidden = false;
  }

  async function retry(documentId, button) {
    button.disabled = true;
    try {
      const response = await fetch(`/v1/documents/${encodeURIComponent(documentId)}/retry`, {
        method: "POST",
        headers: headers(),
      });
      if (response.ok) {
        flash(`Re-queued ${documentId}.`);
      } else {
        const problem = await response.json().catch(() => ({}));
        flash(`Retry refused (${response.status}): ${problem.detail || problem.title || ""}`, true);
        button.disabled = false;
      }
    } catch (error) {
      flash(`Retry failed: ${error}`, true);
      button.disabled = false;
    }
    refresh();
  }

  async function refresh() {
    const freshness = $("freshness");
    try {
      const response = await fetch("/v1/dashboard/summary", { headers: headers() });
      if (response.status === 401 || response.status === 403) {
        throw new Error(
          `HTTP ${response.status}: paste an API key with the read scope above ` +
          "(make run writes one to var/api-key); retries need the admin scope.");
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const summary = await response.json();
      lastSummary = summary;
      renderCounts(summary);
      renderThroughput(summary);
      renderBacklog(summary);
      renderStages(summary);
      renderStories(summary);
      renderFailed(summary);
      renderSetAside(summary);
      freshness.textContent =
        `Updated ${new Date(summary.generated_at).toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
      freshness.classList.remove("stale");
    } catch (error) {
      freshness.textContent = `Cannot read the summary. ${error.message || error}`;
      freshness.classList.add("stale");
    }
  }

  function init() {
    const input = $("api-key");
    input.value = localStorage.getItem(KEY_STORAGE) || "";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
      flash(key ? "API key saved in this browser." : "API key removed.");
      refresh();
    });
    refresh();
    setInterval(refresh, REFRESH_MS);
    // Charts are drawn to their element's size: again when it changes.
    window.addEventListener("resize", () => {
      if (lastSummary) renderThroughput(lastSummary);
      drawBacklog();
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
