// csdh search page: choose or drop an image, see its nearest images; click a result to search with it.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const fileInput = $("file"), drop = $("drop"), results = $("results"), statusEl = $("status"), errorEl = $("error");
  let searches = 0;
  let queryUrl = null;

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  function params() {
    const q = new URLSearchParams();
    const k = $("k").value.trim(), radius = $("radius").value.trim();
    if (k) q.set("k", k);
    if (radius) q.set("radius", radius);
    return q;
  }

  function setQuery(src, caption) {
    if (queryUrl) URL.revokeObjectURL(queryUrl);
    queryUrl = src.startsWith("blob:") ? src : null;
    $("query-img").src = src;
    $("query-caption").textContent = caption;
    $("query").hidden = false;
  }

  async function post(url, body) {
    results.classList.add("busy");
    showError("");
    statusEl.textContent = "searching…";
    try {
      const response = await fetch(url, { method: "POST", body: body });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (!response.ok) {
        showError((data && data.error) || ("request failed: HTTP " + response.status));
        statusEl.textContent = "";
        return;
      }
      render(data);
    } catch (e) {
      showError("the server cannot be reached: " + e);
      statusEl.textContent = "";
    } finally {
      results.classList.remove("busy");
    }
  }

  function render(data) {
    const hits = (data.results && data.results[0]) || [];
    results.replaceChildren();
    for (const hit of hits) {
      const tile = document.createElement("div");
      tile.className = "result";
      tile.tabIndex = 0;
      tile.dataset.id = hit.id;
      tile.title = (hit.path || ("item " + hit.id)) + (hit.labels.length ? " [" + hit.labels.join(", ") + "]" : "");
      const img = document.createElement("img");
      img.loading = "lazy";
      img.alt = "item " + hit.id;
      img.src = "/api/items/" + hit.id + "/image";
      const meta = document.createElement("div");
      meta.className = "meta";
      const dist = document.createElement("span");
      dist.className = "distance";
      dist.textContent = "d=" + hit.distance;
      const id = document.createElement("span");
      id.className = "id muted";
      id.textContent = "#" + hit.id;
      meta.append(dist, id);
      const labels = document.createElement("div");
      labels.className = "labels";
      labels.textContent = hit.labels.join(", ") || "\u00a0";
      tile.append(img, meta, labels);
      tile.addEventListener("click", () => searchById(hit.id, hit.path));
      tile.addEventListener("keydown", (e) => { if (e.key === "Enter") searchById(hit.id, hit.path); });
      results.append(tile);
    }
    searches += 1;
    results.dataset.searchCount = String(searches);
    const ms = data.query_time_ms != null ? " in " + data.query_time_ms.toFixed(1) + " ms" : "";
    statusEl.textContent = hits.length + " results" + ms + (hits.length ? " — click one to search with it" : "");
  }

  function searchFile(file) {
    if (!file) return;
    setQuery(URL.createObjectURL(file), file.name);
    const form = new FormData();
    form.append("image", file, file.name);
    post("/api/search?" + params().toString(), form);
  }

  function searchById(id, path) {
    setQuery("/api/items/" + id + "/image", "item #" + id + (path ? " — " + path : ""));
    post("/api/search/by-id/" + id + "?" + params().toString(), null);
  }

  fileInput.addEventListener("change", () => { searchFile(fileInput.files[0]); fileInput.value = ""; });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) searchFile(e.dataTransfer.files[0]); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") fileInput.click(); });

  fetch("/api/stats").then((r) => r.json()).then((s) => {
    $("stats").textContent = s.count + " images · " + s.bits + "-bit codes · " + s.kind + " index · " +
      s.model.method + " / " + s.model.backbone;
  }).catch(() => { $("stats").textContent = ""; });
})();
