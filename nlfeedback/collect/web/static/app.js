// nlfeedback collector page: plain JS, no build step. Talks to the API in nlfeedback/collect/web/app.py.
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const $ = (id) => document.getElementById(id);
  const state = { config: null, item: null, viewers: [], shownAt: null, renderedAt: 0, rating: null, busy: false,
                  rb: null };

  // --- API --------------------------------------------------------------------------------------
  async function api(path, options = {}) {
    const headers = {};
    if (token) headers["X-NLF-Token"] = token;
    const init = { method: options.method || "GET", headers, credentials: "same-origin" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = new Error((data && data.error) || `${res.status} ${res.statusText}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function frameUrl(seg, step) {
    const url = `/api/frames/${encodeURIComponent(seg.trajectory_id)}/${step}`;
    return token ? `${url}?token=${encodeURIComponent(token)}` : url;
  }

  function say(text, kind = "") {
    const m = $("message");
    m.textContent = text;
    m.className = kind;
  }

  // --- a trajectory segment: frame, scrubber, play button, captions -----------------------------
  class Viewer {
    constructor(seg, title) {
      this.seg = seg;
      this.node = $("viewer-template").content.firstElementChild.cloneNode(true);
      this.node.dataset.side = seg.side;
      this.node.querySelector(".viewer-title").textContent = title;
      this.node.querySelector(".viewer-info").textContent =
        `${seg.env_id} seed ${seg.seed} · ${seg.trajectory_id} · steps ${seg.start + 1}–${seg.end} of ` +
        `${seg.episode_length} · ${seg.outcome}`;
      this.img = this.node.querySelector(".frame");
      this.scrub = this.node.querySelector(".scrub");
      this.scrub.min = seg.start;
      this.scrub.max = seg.end;
      this.scrub.addEventListener("input", () => this.show(Number(this.scrub.value)));
      this.playButton = this.node.querySelector(".play");
      this.playButton.addEventListener("click", () => this.toggle());
      this.preload = seg.states.map((s) => { const im = new Image(); im.src = frameUrl(seg, s.step); return im; });
      const list = this.node.querySelector(".captions");
      list.start = seg.start + 1;
      this.items = new Map();
      for (const s of seg.states.slice(1)) {
        const li = document.createElement("li");
        li.textContent = `${s.action} → ${s.caption}`;
        li.addEventListener("click", () => this.show(s.step));
        list.appendChild(li);
        this.items.set(s.step, li);
      }
      this.img.addEventListener("load", () => { if (state.shownAt === null) state.shownAt = performance.now(); });
      this.timer = null;
      this.show(seg.start);
    }

    show(step) {
      const seg = this.seg;
      step = Math.max(seg.start, Math.min(seg.end, Math.round(step)));
      if (step === this.step) return;
      this.step = step;
      this.img.src = frameUrl(seg, step);
      this.scrub.value = step;
      this.node.querySelector(".step-label").textContent = `step ${step}/${seg.episode_length}`;
      const s = seg.states[step - seg.start];
      this.node.querySelector(".caption").textContent = s.action ? `${s.action} → ${s.caption}` : "start";
      for (const [k, li] of this.items) li.classList.toggle("current", k === step);
      // Scroll the caption list only (never the page: the sketch canvas must not move under the pointer).
      const li = this.items.get(step), list = li && li.parentElement;
      if (li && (li.offsetTop < list.scrollTop || li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight)) {
        list.scrollTop = li.offsetTop - list.clientHeight / 2;
      }
    }

    toggle() { if (this.timer) this.stop(); else this.play(); }

    play() {
      if (this.step >= this.seg.end) this.show(this.seg.start);
      this.playButton.textContent = "❚❚";
      this.timer = setInterval(() => {
        if (this.step >= this.seg.end) this.stop(); else this.show(this.step + 1);
      }, 250);
    }

    stop() {
      clearInterval(this.timer);
      this.timer = null;
      this.playButton.textContent = "▶";
    }
  }

  // --- the sketch canvas -------------------------------------------------------------------------
  const sketch = {
    canvas: $("sketch"), drawing: false, lastPx: null, lastV: null, cursor: null, margin: 12,
    cols: new Float64Array($("sketch").width).fill(NaN),
  };
  const ctx = sketch.canvas.getContext("2d");

  function sketchSeg() { return state.item.segments[0]; }
  function pxToPos(px) { const s = sketchSeg(); return s.start + (px / sketch.canvas.width) * (s.end - s.start); }
  function posToPx(pos) { const s = sketchSeg(); return (pos - s.start) / (s.end - s.start) * sketch.canvas.width; }
  function yToV(py) {
    const h = sketch.canvas.height - 2 * sketch.margin;
    return Math.max(-1, Math.min(1, 1 - 2 * (py - sketch.margin) / h));
  }
  function vToY(v) { return sketch.margin + (1 - v) / 2 * (sketch.canvas.height - 2 * sketch.margin); }

  function canvasXY(e) {
    const r = sketch.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * sketch.canvas.width / r.width, (e.clientY - r.top) * sketch.canvas.height / r.height];
  }

  function sketchPoints() {
    const pts = [];
    sketch.cols.forEach((v, px) => { if (!Number.isNaN(v)) pts.push([pxToPos(px + 0.5), v]); });
    return pts;
  }

  // The same resampling the server does (one value per step: the height at states start+1..end).
  function resample(points) {
    const s = sketchSeg();
    if (!points.length) return [];
    const out = [];
    for (let x = s.start + 1; x <= s.end; x++) {
      if (x <= points[0][0]) { out.push(points[0][1]); continue; }
      if (x >= points[points.length - 1][0]) { out.push(points[points.length - 1][1]); continue; }
      let i = 1;
      while (points[i][0] < x) i++;
      const [x0, y0] = points[i - 1], [x1, y1] = points[i];
      out.push(y0 + (y1 - y0) * (x - x0) / (x1 - x0));
    }
    return out;
  }

  function drawSketch() {
    const c = sketch.canvas, W = c.width, H = c.height, s = sketchSeg();
    ctx.clearRect(0, 0, W, H);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#e4e4e8";
    if (s.end - s.start <= 100) {
      for (let k = s.start; k <= s.end; k++) {
        const x = Math.round(posToPx(k)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
      }
    }
    ctx.fillStyle = "#8a8a90";
    ctx.font = "11px system-ui, sans-serif";
    for (const v of [1, 0, -1]) {
      const y = Math.round(vToY(v)) + 0.5;
      ctx.strokeStyle = v === 0 ? "#9a9aa0" : "#d0d0d6";
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(W, y); ctx.stroke();
      ctx.fillText(v === 1 ? "+1 done" : v === 0 ? "0" : "−1 bad", 3, v === -1 ? y - 3 : y + 11);
    }
    if (sketch.cursor !== null) {
      ctx.strokeStyle = "#f0a030";
      ctx.beginPath(); ctx.moveTo(sketch.cursor + 0.5, 0); ctx.lineTo(sketch.cursor + 0.5, H); ctx.stroke();
    }
    ctx.strokeStyle = "#2463eb";
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    let open = false;
    sketch.cols.forEach((v, px) => {
      if (Number.isNaN(v)) { open = false; return; }
      if (!open) ctx.moveTo(px, vToY(v)); else ctx.lineTo(px, vToY(v));
      open = true;
    });
    ctx.stroke();
    const pts = sketchPoints();
    const curve = resample(pts);
    ctx.fillStyle = "#c0262d";
    curve.forEach((v, i) => {
      ctx.beginPath(); ctx.arc(posToPx(s.start + 1 + i), vToY(v), 3, 0, 2 * Math.PI); ctx.fill();
    });
    const info = $("sketch-info");
    if (!pts.length) info.textContent = `draw over steps ${s.start}–${s.end}`;
    else info.textContent = `drawn over steps ${pts[0][0].toFixed(1)}–${pts[pts.length - 1][0].toFixed(1)} of ` +
      `${s.start}–${s.end}; red dots: the ${curve.length} values that will be saved`;
  }

  function paint(e) {
    const [x, y] = canvasXY(e);
    const W = sketch.canvas.width;
    const px = Math.max(0, Math.min(W - 1, Math.round(x)));
    const v = yToV(y);
    if (sketch.lastPx === null) {
      sketch.cols[px] = v;
    } else {
      const a = sketch.lastPx, b = px, va = sketch.lastV;
      const n = Math.abs(b - a);
      for (let i = 0; i <= n; i++) {
        const t = n === 0 ? 1 : i / n;
        sketch.cols[a + Math.sign(b - a) * i] = va + (v - va) * t;
      }
    }
    sketch.lastPx = px;
    sketch.lastV = v;
  }

  function pointerMoved(e) {
    if (!state.item || state.item.kind !== "sketch") return;
    const [x] = canvasXY(e);
    sketch.cursor = Math.max(0, Math.min(sketch.canvas.width - 1, x));
    state.viewers[0].show(pxToPos(sketch.cursor));
    if (sketch.drawing) paint(e);
    drawSketch();
  }

  sketch.canvas.addEventListener("pointerdown", (e) => {
    if (!state.item || state.item.kind !== "sketch") return;
    e.preventDefault();
    sketch.drawing = true;
    sketch.lastPx = null;
    sketch.canvas.setPointerCapture(e.pointerId);
    pointerMoved(e);
  });
  sketch.canvas.addEventListener("pointermove", pointerMoved);
  const endStroke = () => { sketch.drawing = false; sketch.lastPx = null; };
  sketch.canvas.addEventListener("pointerup", endStroke);
  sketch.canvas.addEventListener("pointercancel", endStroke);
  sketch.canvas.addEventListener("pointerleave", () => { sketch.cursor = null; if (state.item && state.item.kind === "sketch") drawSketch(); });
  $("sketch-clear").addEventListener("click", () => { sketch.cols.fill(NaN); drawSketch(); });

  // --- rating buttons ----------------------------------------------------------------------------
  function buildRating(scale) {
    const box = $("rating");
    box.textContent = "";
    const [lo, hi] = scale;
    $("scale-lo").textContent = lo;
    $("scale-hi").textContent = hi;
    for (let v = lo; v <= hi; v++) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = v;
      b.dataset.value = v;
      b.setAttribute("role", "radio");
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", () => selectRating(v));
      box.appendChild(b);
    }
  }

  function selectRating(v) {
    state.rating = v;
    for (const b of $("rating").children) b.setAttribute("aria-pressed", String(Number(b.dataset.value) === v));
  }

  // --- read-back: the reading of a text remark on the episode's timeline, and the person's verdict ------
  const SIGN = { 1: "good", "-1": "bad", 0: "neither" };

  function shownSteps(steps) {  // 0-based steps -> "3-7,12" (shown numbers, as nlf show prints them)
    const s = [...new Set(steps.map((k) => k + 1))].sort((a, b) => a - b), parts = [];
    for (let i = 0; i < s.length;) {
      let j = i;
      while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
      parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
      i = j + 1;
    }
    return parts.join(",");
  }

  function showReading(rb) {
    const [start, end] = rb.segment;
    const marks = new Map();
    let whole = null;
    const rules = [];
    for (const c of rb.reading) {
      if (c.scope === "general" && c.pattern) rules.push({ ...c, keep: true });
      else if (c.whole) whole = { polarity: c.polarity, strength: c.strength };
      else for (const k of c.steps) marks.set(k, { polarity: c.polarity, strength: c.strength });
    }
    state.rb = { ...rb, start, end, marks, whole, rules, readAt: performance.now(), saved: false, newText: null };
    $("rb-title").textContent = `How the ${rb.interpreter} interpreter read “${rb.text}” ` +
      `(steps ${start + 1}–${end} as shown; strength in small print):`;
    const ul = $("rb-lines");
    ul.textContent = "";
    for (let i = 0; i < rb.lines.length; i++) {
      const li = document.createElement("li");
      const c = rb.reading[i];
      li.textContent = rb.lines[i];
      li.className = c ? SIGN[c.polarity] : "none";
      ul.appendChild(li);
    }
    for (const div of document.querySelectorAll(".answer-kind")) div.hidden = true;
    $("actions").hidden = true;
    $("readback").hidden = false;
    for (const id of ["rb-accept", "rb-fix", "rb-rephrase"]) $(id).hidden = false;
    $("rb-next").hidden = true;
    $("rb-rephrase-box").hidden = true;
    $("rb-keep").hidden = true;
    $("rb-text").value = "";
    drawReadback();
    document.activeElement && document.activeElement.blur();
  }

  function drawReadback() {
    const rb = state.rb, box = $("rb-timeline");
    box.textContent = "";
    const viewer = state.viewers[0];
    for (let k = rb.start; k < rb.end; k++) {
      const m = rb.marks.get(k);
      const cell = document.createElement("button");
      cell.type = "button";
      cell.className = "rb-step" + (m ? ` ${SIGN[m.polarity]}` : "");
      cell.dataset.step = k;
      if (m) cell.style.setProperty("--a", String(0.35 + 0.65 * m.strength));
      cell.innerHTML = `${k + 1}<small>${m ? String(Number(m.strength.toPrecision(2))) : ""}</small>`;
      const s = viewer.seg.states[k + 1 - viewer.seg.start];
      cell.title = `step ${k + 1}: ${s.action} → ${s.caption}` + (m ? ` · ${SIGN[m.polarity]}, strength ${m.strength}` : "");
      cell.addEventListener("click", () => { if (!rb.saved) cycle(k); viewer.show(k + 1); });
      box.appendChild(cell);
      const li = viewer.items.get(k + 1);
      if (li) { li.classList.toggle("rb-good", !!m && m.polarity === 1); li.classList.toggle("rb-bad", !!m && m.polarity === -1); }
    }
    $("rb-whole").checked = !!rb.whole;
    const ws = $("rb-whole-sign");
    const wp = rb.whole ? rb.whole.polarity : 1;
    ws.textContent = SIGN[wp];
    ws.className = `sign ${SIGN[wp]}`;
    ws.disabled = !rb.whole;
    const rules = $("rb-rules");
    rules.textContent = "";
    rb.rules.forEach((r, i) => {
      const row = document.createElement("div");
      const label = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.checked = r.keep;
      cb.addEventListener("change", () => { r.keep = cb.checked; });
      label.append(cb, ` rule: ${r.rule}: `);
      const sign = document.createElement("button");
      sign.type = "button";
      sign.className = `sign ${SIGN[r.polarity]}`;
      sign.textContent = SIGN[r.polarity];
      sign.addEventListener("click", () => { r.polarity = -r.polarity; drawReadback(); });
      row.append(label, sign, document.createTextNode(", everywhere"));
      row.dataset.rule = i;
      rules.appendChild(row);
    });
  }

  function cycle(k) {  // off -> good -> bad -> off
    const rb = state.rb, m = rb.marks.get(k);
    if (!m) rb.marks.set(k, { polarity: 1, strength: 1 });
    else if (m.polarity === 1) m.polarity = -1;
    else rb.marks.delete(k);
    drawReadback();
  }

  function fixClauses() {
    const rb = state.rb, groups = new Map(), out = [];
    for (const [k, m] of [...rb.marks].sort((a, b) => a[0] - b[0])) {
      const key = `${m.polarity}|${m.strength}`;
      if (!groups.has(key)) groups.set(key, { polarity: m.polarity, strength: m.strength, steps: [] });
      groups.get(key).steps.push(k);
    }
    for (const g of groups.values()) out.push({ steps: shownSteps(g.steps), polarity: g.polarity, strength: g.strength });
    if (rb.whole) out.push({ steps: "all", polarity: rb.whole.polarity, strength: rb.whole.strength });
    for (const r of rb.rules) {
      if (r.keep) out.push({ steps: shownSteps(r.steps) || "none", polarity: r.polarity, strength: r.strength,
                             scope: "general", pattern: r.pattern });
    }
    return out;
  }

  async function sendVerdict(verdict) {
    const rb = state.rb;
    if (!rb || rb.saved || state.busy) return;
    const body = { ticket: state.item.ticket, verdict, seconds: Math.max(0, (performance.now() - rb.readAt) / 1000) };
    if (verdict === "fixed") {
      body.clauses = fixClauses();
      if (!body.clauses.length) { say("mark at least one step (or the whole run) to save a fix", "error"); return; }
    }
    if (verdict === "rephrased") body.text = rb.newText;
    state.busy = true;
    try {
      const r = await api("/api/readback", { method: "POST", body });
      rb.saved = true;
      say(`saved ${r.saved} (read-back ${verdict}) — ${r.left} left; N: next item`, "ok");
      for (const id of ["rb-accept", "rb-fix", "rb-rephrase"]) $(id).hidden = true;
      $("rb-rephrase-box").hidden = true;
      $("rb-next").hidden = false;
      $("rb-next").focus();
    } catch (e) {
      say(e.message, "error");
      if (e.status === 409 || e.status === 404) await next(true);
    } finally {
      state.busy = false;
    }
  }

  async function reread() {
    const rb = state.rb;
    if (!rb || rb.saved || state.busy) return;
    state.busy = true;
    try {
      const r = await api("/api/reread", { method: "POST", body: { ticket: state.item.ticket, text: $("rb-text").value } });
      rb.newText = r.text;
      const ul = $("rb-lines");
      ul.textContent = "";
      const head = document.createElement("li");
      head.className = "none";
      head.textContent = `the new text “${r.text}” was read as:`;
      ul.appendChild(head);
      r.lines.forEach((line, i) => {
        const li = document.createElement("li");
        li.textContent = line;
        li.className = r.reading[i] ? SIGN[r.reading[i].polarity] : "none";
        ul.appendChild(li);
      });
      rb.marks = new Map();
      rb.whole = null;
      rb.rules = [];
      for (const c of r.reading) {
        if (c.scope === "general" && c.pattern) rb.rules.push({ ...c, keep: true });
        else if (c.whole) rb.whole = { polarity: c.polarity, strength: c.strength };
        else for (const k of c.steps) rb.marks.set(k, { polarity: c.polarity, strength: c.strength });
      }
      rb.saved = false;
      drawReadback();
      rb.saved = false;
      $("rb-keep").hidden = false;
      $("rb-fix").hidden = true;
      $("rb-accept").hidden = true;
      say("the new text's reading is shown: keep the new text, or change it and read it again", "ok");
    } catch (e) {
      say(e.message, "error");
      if (e.status === 404) await next(true);
    } finally {
      state.busy = false;
    }
  }

  // --- items ---------------------------------------------------------------------------------------
  function stopAll() { for (const v of state.viewers) v.stop(); }

  function render(item) {
    stopAll();
    state.item = item;
    state.shownAt = null;
    state.renderedAt = performance.now();
    const box = $("viewers");
    box.textContent = "";
    state.viewers = item.segments.map((seg) => {
      const title = item.kind === "preference" ? (seg.side === "left" ? "Left (1)" : "Right (2)") : "Episode";
      const v = new Viewer(seg, title);
      box.appendChild(v.node);
      return v;
    });
    for (const div of document.querySelectorAll(".answer-kind")) div.hidden = div.dataset.kind !== item.kind;
    $("submit").hidden = item.kind === "preference";
    state.rb = null;
    $("readback").hidden = true;
    $("actions").hidden = false;
    $("work").hidden = false;
    $("finished").hidden = true;
    $("progress").textContent = `${$("annotator").value.trim()} · ${item.kind}: item ${item.number} of ${item.total} ` +
      `(${item.done} done)`;
    if (item.kind === "text") { $("text").value = ""; $("text").focus(); }
    if (item.kind === "scalar") { buildRating(item.scale); state.rating = null; }
    if (item.kind === "sketch") { sketch.cols.fill(NaN); sketch.cursor = null; drawSketch(); }
  }

  let nextRequest = 0;

  async function next(keepMessage = false) {
    const annotator = $("annotator").value.trim();
    const kind = $("kind").value;
    if (!annotator) { say("type your name first", "error"); $("annotator").focus(); return; }
    try { localStorage.setItem("nlf-annotator", annotator); } catch (e) { /* private mode */ }
    const request = ++nextRequest;
    try {
      const item = await api(`/api/next?annotator=${encodeURIComponent(annotator)}&kind=${encodeURIComponent(kind)}`);
      if (request !== nextRequest) return;  // a later request (e.g. another kind chosen meanwhile) wins
      if (!keepMessage) say("");
      if (item.finished) {
        stopAll();
        state.item = null;
        $("work").hidden = true;
        $("finished").hidden = false;
        $("progress").textContent = `${annotator} · ${kind}: all ${item.total} done`;
        return;
      }
      render(item);
    } catch (e) {
      if (request === nextRequest) say(e.message, "error");
    }
  }

  async function submit(preferred) {
    if (state.busy || !state.item) return;
    const item = state.item;
    const started = state.shownAt === null ? state.renderedAt : state.shownAt;
    const body = { ticket: item.ticket, seconds: Math.max(0, (performance.now() - started) / 1000) };
    if (item.kind === "text") body.text = $("text").value;
    if (item.kind === "text" && state.rb) return;
    else if (item.kind === "scalar") {
      if (state.rating === null) { say("pick a rating first", "error"); return; }
      body.value = state.rating;
    } else if (item.kind === "sketch") {
      const pts = sketchPoints();
      if (!pts.length) { say("draw the curve on the canvas first", "error"); return; }
      body.points = pts;
    } else body.preferred = preferred;
    state.busy = true;
    try {
      const r = await api("/api/submit", { method: "POST", body });
      if (r.readback) { say("is that what you meant? A: accept · click steps to fix · or rephrase", "ok"); showReading(r.readback); return; }
      say(`saved ${r.saved} (${body.seconds.toFixed(1)} s) — ${r.left} left`, "ok");
      await next(true);
    } catch (e) {
      say(e.message, "error");
      if (e.status === 409 || e.status === 404) await next(true);
    } finally {
      state.busy = false;
    }
  }

  async function skip() {
    if (!state.item) return;
    try { await api("/api/skip", { method: "POST", body: { ticket: state.item.ticket } }); say("skipped for now", "ok"); }
    catch (e) { say(e.message, "error"); }
    await next(true);
  }

  // --- wiring --------------------------------------------------------------------------------------
  $("rb-accept").addEventListener("click", () => sendVerdict("accepted"));
  $("rb-fix").addEventListener("click", () => sendVerdict("fixed"));
  $("rb-rephrase").addEventListener("click", () => { $("rb-rephrase-box").hidden = false; $("rb-text").focus(); });
  $("rb-reread").addEventListener("click", reread);
  $("rb-keep").addEventListener("click", () => sendVerdict("rephrased"));
  $("rb-next").addEventListener("click", () => next(true));
  $("rb-whole").addEventListener("change", () => {
    const rb = state.rb;
    rb.whole = $("rb-whole").checked ? { polarity: 1, strength: 1 } : null;
    drawReadback();
  });
  $("rb-whole-sign").addEventListener("click", () => { const rb = state.rb; if (rb.whole) rb.whole.polarity = -rb.whole.polarity; drawReadback(); });
  $("rb-flip").addEventListener("click", () => {
    const rb = state.rb;
    for (const m of rb.marks.values()) m.polarity = -m.polarity;
    if (rb.whole) rb.whole.polarity = -rb.whole.polarity;
    for (const r of rb.rules) r.polarity = -r.polarity;
    drawReadback();
  });
  $("submit").addEventListener("click", () => submit());
  $("skip").addEventListener("click", skip);
  $("pref-left").addEventListener("click", () => submit(0));
  $("pref-right").addEventListener("click", () => submit(1));
  $("pref-tie").addEventListener("click", () => submit(0.5));
  $("start-form").addEventListener("submit", (e) => { e.preventDefault(); next(); });
  $("kind").addEventListener("change", () => { if ($("annotator").value.trim()) next(); });

  document.addEventListener("keydown", (e) => {
    const item = state.item;
    if (!item || $("work").hidden) return;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && item.kind === "text") { e.preventDefault(); submit(); return; }
    const t = e.target;
    if (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "button" && t.type !== "checkbox")) return;
    if (state.rb && !e.ctrlKey && !e.metaKey && !e.altKey) {
      const key = e.key.toLowerCase();
      if (key === "a" && !state.rb.saved && !$("rb-accept").hidden) { e.preventDefault(); sendVerdict("accepted"); return; }
      if (key === "n" && state.rb.saved) { e.preventDefault(); next(true); return; }
    }
    if (e.key === "ArrowRight") { for (const v of state.viewers) v.show(v.step + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { for (const v of state.viewers) v.show(v.step - 1); e.preventDefault(); }
    else if (e.key === " ") { for (const v of state.viewers) v.toggle(); e.preventDefault(); }
    else if (item.kind === "preference" && e.key === "1") submit(0);
    else if (item.kind === "preference" && e.key === "2") submit(1);
    else if (item.kind === "preference" && (e.key === "=" || e.key === "0")) submit(0.5);
    else if (item.kind === "scalar" && /^[0-9]$/.test(e.key)) {
      const v = Number(e.key);
      if (v >= item.scale[0] && v <= item.scale[1]) selectRating(v);
    } else if (item.kind === "scalar" && e.key === "Enter") submit();
  });

  async function init() {
    try {
      state.config = await api("/api/config");
    } catch (e) {
      say(e.message, "error");
      return;
    }
    const select = $("kind");
    for (const k of state.config.kinds) {
      const o = document.createElement("option");
      o.value = k;
      o.textContent = `${k} (${state.config.items[k]} items)`;
      select.appendChild(o);
    }
    let saved = null;
    try { saved = localStorage.getItem("nlf-annotator"); } catch (e) { saved = null; }
    $("annotator").value = params.get("annotator") || saved || "";
    if (params.get("kind") && state.config.kinds.includes(params.get("kind"))) select.value = params.get("kind");
    document.body.dataset.ready = "true";
  }

  init();
})();
