// brushwork web app: upload an image, stream the painting's strokes (server-sent events) and draw
// them on a <canvas> as they arrive.  No framework, no build step.
//
// Each "strokes" event carries `draw`: per-stroke primitives in output pixels, from the server's own
// stroke geometry (each shape's `live_primitives`, then R G B, plus x0 y0 x1 y1 of a clip rectangle
// when tiles clip), drawn by that shape's function in /static/shapes.js.  The live view approximates
// the server's rasteriser; when the painting is done the exact PNG replaces it.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  // Public state (read by the browser tests): job id, state, strokes drawn.
  const S = (window.brushwork = {
    config: null, file: null, job: null, state: "idle", drawn: 0, received: 0, total: 0,
    width: 0, height: 0, shape: "bezier", background: "#000000", pending: [], events: null, raf: 0,
  });

  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");

  // --- helpers -----------------------------------------------------------------------------
  function showError(msg) {
    const el = $("error");
    el.textContent = msg || "";
    el.hidden = !msg;
  }
  function setStatus(msg) { $("status").textContent = msg; }
  function setProgress(done, total) {
    const bar = $("bar");
    bar.max = Math.max(1, total);
    bar.value = Math.min(done, total);
    $("progress").textContent = `${done} / ${total} strokes`;
  }
  function busy(on) {
    $("paint").disabled = on || !S.file;
    $("cancel").disabled = !on;
    for (const id of ["strokes", "shape", "medium", "method", "detail", "background", "bgcolor", "size", "file"]) $(id).disabled = on;
  }
  function fmtBytes(n) { return n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} MB` : `${Math.round(n / 1e3)} kB`; }
  function backgroundValue() {
    const v = $("background").value;
    return v === "custom" ? $("bgcolor").value : v;
  }

  // --- configuration ------------------------------------------------------------------------
  async function loadConfig() {
    try {
      const r = await fetch("/api/config");
      const c = await r.json();
      S.config = c;
      addShapes(c.shapes);
      addMedia(c.media || []);
      if (c.defaults.medium) $("medium").value = c.defaults.medium;
      const strokes = $("strokes");
      strokes.max = c.max_strokes;
      strokes.value = c.defaults.strokes ? String(Math.min(c.defaults.strokes, c.max_strokes)) : "";  // "" = auto
      $("method").value = c.defaults.method;
      $("detail").value = c.defaults.detail;
      const size = $("size");
      for (const opt of [...size.options]) if (Number(opt.value) > c.max_size) opt.remove();
      if (![...size.options].some((o) => Number(o.value) === c.max_size) && c.max_size < 1024) {
        size.add(new Option(`${c.max_size} px`, String(c.max_size)));
      }
      if (!c.agent.available) {
        for (const m of ["agent", "refine"]) {
          const opt = $("method").querySelector(`option[value="${m}"]`);
          if (opt) { opt.disabled = true; opt.textContent = `${m} (no agent installed)`; }
        }
      }
      $("size").value = String(c.defaults.size);
      for (const id of ["strokes", "method", "detail", "size"]) $(id).addEventListener("input", strokesHint);
      strokesHint();
      $("drop-hint").textContent = `PNG, JPEG, WebP, GIF, TIFF, BMP · up to ${fmtBytes(c.max_upload_bytes)}, ` +
        `${(c.max_pixels / 1e6).toFixed(0)} megapixels`;
    } catch (e) {
      showError("Cannot reach the server.");
    }
  }

  // What the options will paint: with no stroke count, the CLI's automatic one for this size, detail
  // and method (the server's /api/config lists them), and whether it is over this server's limit.
  function strokesHint() {
    const c = S.config;
    if (!c || !c.auto_strokes) return;
    const typed = Number($("strokes").value) || 0;
    const auto = ((c.auto_strokes[$("method").value] || {})[$("detail").value] || {})[$("size").value];
    const n = Math.min(typed || auto, c.max_strokes);
    let text = typed ? `${n.toLocaleString()} strokes` : `auto: ${n.toLocaleString()} strokes`;
    text += ` at ${$("size").value} px, ${$("detail").value} detail`;
    if ((typed || auto) > c.max_strokes) text += ` (this server's limit; the CLI would paint ${(typed || auto).toLocaleString()})`;
    $("strokes-hint").textContent = text;
  }

  // --- choosing an image ---------------------------------------------------------------------
  function setFile(f) {
    showError("");
    if (!f) return;
    if (f.type && !f.type.startsWith("image/")) {
      showError(`“${f.name}” is not an image.`);
      return;
    }
    if (S.config && f.size > S.config.max_upload_bytes) {
      showError(`“${f.name}” is ${fmtBytes(f.size)}; the limit is ${fmtBytes(S.config.max_upload_bytes)}.`);
      return;
    }
    S.file = f;
    const img = $("preview");
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(f);
    img.hidden = false;
    $("drop-text").textContent = f.name;
    $("paint").disabled = S.state === "queued" || S.state === "running";
    setStatus("Ready: press Paint.");
  }

  $("file").addEventListener("change", (e) => setFile(e.target.files[0]));
  const drop = $("drop");
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    if (S.state === "queued" || S.state === "running") return;
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) setFile(f);
  });
  // Dropping a file anywhere else must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  $("background").addEventListener("change", () => { $("bgcolor").hidden = $("background").value !== "custom"; });

  // --- drawing ---------------------------------------------------------------------------------
  function resetCanvas() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (S.background !== "transparent") {
      ctx.fillStyle = S.background;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
    }
  }

  // Display size: as large as fits the stage (small paintings are shown enlarged), aspect kept.
  function fitCanvas() {
    const wrap = $("canvas-wrap");
    const maxW = Math.max(100, wrap.clientWidth - 24);
    const maxH = Math.max(240, Math.min(720, window.innerHeight * 0.72));
    const k = Math.min(maxW / canvas.width, maxH / canvas.height);
    canvas.style.width = `${Math.round(canvas.width * k)}px`;
    canvas.style.height = `${Math.round(canvas.height * k)}px`;
  }
  window.addEventListener("resize", () => { if (S.width) fitCanvas(); });

  function setupCanvas(w, h) {
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    $("placeholder").hidden = true;
    canvas.hidden = false;
    fitCanvas();
    resetCanvas();
  }

  // How each shape is drawn comes from the server (/static/shapes.js, generated from the shapes).
  const SHAPES = window.BRUSHWORK_SHAPES || {};

  function drawOne(shape, d) {
    const entry = SHAPES[shape];
    if (!entry) return;
    const fn = (row) => entry.draw(ctx, row);
    const n = entry.length;
    if (d.length >= n + 4) {
      const [cx0, cy0, cx1, cy1] = d.slice(n, n + 4);
      ctx.save();
      ctx.beginPath();
      ctx.rect(cx0, cy0, cx1 - cx0, cy1 - cy0);
      ctx.clip();
      fn(d);
      ctx.restore();
    } else {
      fn(d);
    }
  }

  // Strokes are queued and drawn in animation frames, a few milliseconds' worth at a time, so a large
  // batch never blocks the page.
  function pump() {
    S.raf = 0;
    const t0 = performance.now();
    while (S.pending.length && performance.now() - t0 < 10) {
      const item = S.pending.shift();
      if (item.reset) { resetCanvas(); S.drawn = 0; continue; }
      if (item.final) { drawFinal(item.final); continue; }
      drawOne(item.shape, item.d);
      S.drawn += 1;
    }
    ctx.globalAlpha = 1;
    canvas.dataset.drawn = String(S.drawn);
    if (S.pending.length) S.raf = requestAnimationFrame(pump);
  }
  function schedule() { if (!S.raf) S.raf = requestAnimationFrame(pump); }

  function drawFinal(url) {
    const img = new Image();
    img.onload = () => {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.globalAlpha = 1;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.dataset.final = "1";
    };
    img.src = url;
  }

  // --- painting ----------------------------------------------------------------------------------
  function closeEvents() {
    if (S.events) { S.events.close(); S.events = null; }
  }

  function finish(state, message) {
    S.state = state;
    closeEvents();
    busy(false);
    document.body.dataset.state = state;
    if (message) setStatus(message);
  }

  function showDownloads(results) {
    const nav = $("downloads");
    nav.replaceChildren(Object.assign(document.createElement("span"), { textContent: "Download:" }));
    for (const [fmt, url] of Object.entries(results)) {
      const a = document.createElement("a");
      a.href = url;
      a.download = `painting.${fmt}`;
      a.textContent = fmt.toUpperCase();
      a.dataset.format = fmt;
      nav.append(a);
    }
    nav.hidden = false;
  }

  async function startPainting(e) {
    e.preventDefault();
    if (!S.file || S.state === "queued" || S.state === "running") return;
    showError("");
    $("downloads").hidden = true;
    const body = new FormData();
    body.append("image", S.file, S.file.name || "image");
    body.append("strokes", $("strokes").value || "0");  // 0: the automatic count
    body.append("detail", $("detail").value);
    body.append("shape", $("shape").value);
    body.append("medium", $("medium").value);
    body.append("method", $("method").value);
    body.append("background", backgroundValue());
    body.append("size", $("size").value);
    S.state = "uploading";
    document.body.dataset.state = "uploading";
    busy(true);
    $("cancel").disabled = true;
    setStatus("Uploading…");
    let r, j;
    try {
      r = await fetch("/api/paint", { method: "POST", body });
      j = await r.json();
    } catch (err) {
      finish("error", "");
      showError("The upload failed: the server could not be reached.");
      return;
    }
    if (!r.ok) {
      finish("error", "");
      showError(j && j.error ? j.error : `The server refused the painting (HTTP ${r.status}).`);
      return;
    }
    S.job = j.id;
    S.state = "queued";
    document.body.dataset.state = "queued";
    S.drawn = 0; S.received = 0; S.total = j.options.strokes; S.pending = [];
    S.shape = j.options.shape;
    S.width = j.width; S.height = j.height;
    S.background = j.options.background;
    delete canvas.dataset.final;
    busy(true);
    setupCanvas(j.width, j.height);
    setProgress(0, S.total);
    setStatus("Queued…");
    listen(j);
  }

  function listen(j) {
    const es = new EventSource(j.events);
    S.events = es;
    es.addEventListener("state", (m) => {
      const d = JSON.parse(m.data);
      if (d.state === "queued") {
        setStatus(d.position > 1 ? `Waiting in the queue (position ${d.position})…` : "Waiting for a free painter…");
      } else if (d.state === "running") {
        S.state = "running";
        document.body.dataset.state = "running";
        S.background = d.background;
        S.shape = d.shape;
        if (S.drawn === 0 && !S.pending.length) resetCanvas();
        setStatus("Painting…");
      }
    });
    es.addEventListener("strokes", (m) => {
      const d = JSON.parse(m.data);
      if (d.replace) S.pending.push({ reset: true });
      for (const item of d.draw) S.pending.push({ shape: S.shape, d: item });
      S.received = d.done;
      S.total = d.total;
      setProgress(d.done, d.total);
      setStatus(d.replace ? "Refining all strokes…" : "Painting…");
      schedule();
    });
    es.addEventListener("done", (m) => {
      const d = JSON.parse(m.data);
      const mt = d.metrics || {};
      S.received = d.done;
      setProgress(d.done, d.done);
      S.pending.push({ final: d.results.png + `?t=${Date.now()}` });
      schedule();
      showDownloads(d.results);
      finish("done", `Done: ${mt.strokes} strokes (${mt.method}) in ${Number(mt.seconds).toFixed(1)} s · ` +
        `PSNR ${Number(mt.psnr).toFixed(2)} dB · SSIM ${Number(mt.ssim).toFixed(3)}`);
    });
    es.addEventListener("error", (m) => {
      if (!m.data) return;  // a connection error (EventSource retries by itself); see onerror
      const d = JSON.parse(m.data);
      finish("error", "");
      showError(`Painting failed: ${d.message}`);
    });
    es.addEventListener("cancelled", (m) => {
      const d = JSON.parse(m.data);
      const why = d.message && d.message !== "cancelled" ? ` (${d.message})` : "";
      finish("cancelled", `Cancelled after ${d.done} strokes${why}.`);
    });
    es.onerror = (ev) => {
      if (ev.data) return;  // the painting's own "error" event, handled above
      if (es.readyState === EventSource.CLOSED && S.events === es) {
        finish("error", "");
        showError("Lost the connection to the server.");
      } else if (S.events === es) {
        setStatus("Reconnecting…");
      }
    };
  }

  async function cancelPainting() {
    if (!S.job) return;
    $("cancel").disabled = true;
    setStatus("Cancelling…");
    try {
      await fetch(`/api/jobs/${S.job}/cancel`, { method: "POST" });
    } catch (e) {
      showError("Could not reach the server to cancel.");
    }
  }

  $("form").addEventListener("submit", startPainting);
  $("cancel").addEventListener("click", cancelPainting);
  // Leaving the page stops its painting, so nobody paints for a closed tab.
  window.addEventListener("pagehide", () => {
    if (S.job && (S.state === "queued" || S.state === "running")) navigator.sendBeacon(`/api/jobs/${S.job}/cancel`);
  });

  // The shape menu: every shape the page can draw live, then (from /api/config) any other one.
  function addShapes(names) {
    const select = $("shape");
    for (const name of names) {
      if (![...select.options].some((o) => o.value === name)) select.add(new Option(name, name));
    }
  }
  addShapes(Object.keys(SHAPES));

  // The medium menu (from /api/config).  Live strokes arrive flat; the finished PNG shows the medium.
  function addMedia(names) {
    const select = $("medium");
    for (const name of names) {
      if (![...select.options].some((o) => o.value === name)) select.add(new Option(name, name));
    }
  }

  busy(false);
  loadConfig();
})();
