/* Frontier Atlas map studio: compose a map, preview it with the real renderer, save it
 * (edit token kept in the URL fragment, never sent in a URL), publish, copy the embed.
 * Every text the user or the data supplies goes into the page through textContent.
 * The preview frame shows the server's render of the draft (POST api/maps/preview).
 * Coordinates are lon/lat (CRS84 degrees) everywhere. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("st-config").textContent);
  var T = cfg.strings[cfg.lang];
  var base = cfg.base;
  var $ = function (id) { return document.getElementById(id); };
  var KINDS = ["borders", "places", "crossings", "countries"];
  var KIND_LABEL = { borders: T.kind_border, places: T.kind_place, crossings: T.kind_crossing,
                     countries: T.kind_country };

  var doc = emptyDoc();
  var names = {};            // "kind:id" -> display name
  var lists = { borders: [], crossings: [], countries: [] };  // preloaded small layers
  var mapId = cfg.map || null;
  var token = null;
  var etag = null;
  var dirty = true;

  function emptyDoc() {
    return { title: "", dek: "", caption: "", source: "", byline: "", notes: "", alt: "",
             lang: cfg.lang, dark: "auto", "static": false, inset: true, size: "article",
             items: { borders: [], places: [], crossings: [], countries: [] }, annotations: [] };
  }

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function status(text, isError) {
    var s = $("st-status");
    s.textContent = text;
    s.classList.toggle("st-error", !!isError);
  }

  function fold(text) {  // case- and diacritic-insensitive key (the server does scripts too)
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function localName(props) {
    return props["name_" + cfg.lang] || props.name || props.name_en || "";
  }

  // ------------------------------------------------------------ data for search
  function loadLayer(kind) {
    return fetch(base + "collections/" + kind + "/items?limit=1000", {
      headers: { accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (fc) {
        lists[kind] = fc.features.map(function (f) {
          var p = f.properties || {};
          var id = kind === "countries" ? (p.iso_a2 || f.id) : f.id;
          var keys = [id, p.iso_a3, p.name, p.name_en, p.name_ru, p.name_be, p.name_local,
                      p.name_by, p.name_other, p.name_by_local, p.name_other_local]
            .filter(Boolean).map(fold);
          names[kind + ":" + id] = localName(p) || id;
          return { kind: kind, id: id, name: localName(p) || id, keys: keys,
                   border: p.border || null };
        });
      }).catch(function () { /* search still finds places */ });
  }

  var searchSeq = 0;
  var searchTimer = null;
  function search(q) {
    var seq = ++searchSeq;
    var results = $("st-results");
    if (fold(q).trim().length < 2) { results.textContent = ""; return; }
    var key = fold(q).trim();
    var local = [];
    ["borders", "crossings", "countries"].forEach(function (kind) {
      lists[kind].forEach(function (item) {
        if (item.keys.some(function (k) { return k.indexOf(key) !== -1; })) local.push(item);
      });
    });
    fetch(base + "places?q=" + encodeURIComponent(q.trim()) + "&limit=8",
          { headers: { accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .catch(function () { return { features: [] }; })
      .then(function (fc) {
        if (seq !== searchSeq) return;  // a newer keystroke won
        var places = fc.features.map(function (f) {
          var p = f.properties || {};
          names["places:" + f.id] = localName(p) || f.id;
          return { kind: "places", id: f.id, name: localName(p) || f.id,
                   sub: [p.kind, p.country].filter(Boolean).join(", ") };
        });
        showResults(places.concat(local.slice(0, 8)));
      });
  }

  function showResults(found) {
    var results = $("st-results");
    results.textContent = "";
    if (!found.length) { results.appendChild(el("li", T.no_results, { "class": "st-hint" })); return; }
    found.forEach(function (item) {
      var li = el("li");
      var btn = el("button", null, { type: "button", "data-kind": item.kind, "data-id": item.id });
      btn.appendChild(el("span", T.add + ": ", { "class": "st-sr" }));
      btn.appendChild(el("strong", item.name));
      btn.appendChild(el("span", " · " + KIND_LABEL[item.kind] + (item.sub ? " (" + item.sub + ")" : ""),
                         { "class": "st-muted" }));
      var on = doc.items[item.kind].indexOf(item.id) !== -1;
      if (on) { btn.disabled = true; btn.appendChild(el("span", " ✓ " + T.added)); }
      btn.addEventListener("click", function () {
        addItem(item.kind, item.id, item.name);
        btn.disabled = true;
        btn.appendChild(el("span", " ✓ " + T.added));
      });
      li.appendChild(btn);
      results.appendChild(li);
    });
  }

  // ------------------------------------------------------------ items and annotations
  function addItem(kind, id, name) {
    if (doc.items[kind].indexOf(id) !== -1) return;
    doc.items[kind].push(id);
    if (name) names[kind + ":" + id] = name;
    changed();
    status(T.added + ": " + (name || id));
  }

  function removeItem(kind, id) {
    doc.items[kind] = doc.items[kind].filter(function (x) { return x !== id; });
    changed();
    status(T.removed + ": " + (names[kind + ":" + id] || id));
  }

  function renderItems() {
    var ul = $("st-items");
    ul.textContent = "";
    var count = 0;
    KINDS.forEach(function (kind) {
      doc.items[kind].forEach(function (id) {
        count++;
        var name = names[kind + ":" + id] || id;
        var li = el("li");
        li.appendChild(el("span", name));
        li.appendChild(el("span", " · " + KIND_LABEL[kind], { "class": "st-muted" }));
        var btn = el("button", T.remove, { type: "button", "aria-label": T.remove + ": " + name });
        btn.addEventListener("click", function () {
          removeItem(kind, id);
          var next = $("st-items").querySelector("button") || $("st-search");
          next.focus();
        });
        li.appendChild(btn);
        ul.appendChild(li);
      });
    });
    $("st-items-empty").hidden = count > 0;
  }

  function annotationText(a) {
    var label = { label: T.ann_label, marker: T.ann_marker, line: a.arrow ? T.ann_arrow : T.ann_line }[a.type];
    var where = a.type === "line"
      ? a.start.lon + ", " + a.start.lat + " → " + a.end.lon + ", " + a.end.lat
      : a.lon + ", " + a.lat;
    return label + ": " + (a.text || "") + " (" + where + ")";
  }

  function renderAnnotations() {
    var ul = $("st-ann-list");
    ul.textContent = "";
    doc.annotations.forEach(function (a, i) {
      var li = el("li");
      li.appendChild(el("span", annotationText(a)));
      var btn = el("button", T.remove, { type: "button", "aria-label": T.remove + ": " + annotationText(a) });
      btn.addEventListener("click", function () {
        doc.annotations.splice(i, 1);
        changed();
        $("st-ann-add").focus();
      });
      li.appendChild(btn);
      ul.appendChild(li);
    });
  }

  function num(id) {
    var v = parseFloat(String($(id).value).replace(",", "."));
    return isFinite(v) ? v : null;
  }

  function addAnnotation() {
    var type = $("st-ann-type").value;
    var text = $("st-ann-text").value.trim();
    var lon = num("st-ann-lon"), lat = num("st-ann-lat");
    if (lon === null || lat === null || (type !== "line" && type !== "arrow" && !text)) {
      status(T.error + ": " + T.ann_text + ", " + T.lon + ", " + T.lat, true);
      return;
    }
    var a;
    if (type === "line" || type === "arrow") {
      var lon2 = num("st-ann-lon2"), lat2 = num("st-ann-lat2");
      if (lon2 === null || lat2 === null) { status(T.error + ": " + T.lon2 + ", " + T.lat2, true); return; }
      a = { type: "line", start: { lon: lon, lat: lat }, end: { lon: lon2, lat: lat2 },
            arrow: type === "arrow", text: text };
    } else if (type === "marker") {
      a = { type: "marker", lon: lon, lat: lat, text: text, note: $("st-ann-note").value.trim() };
    } else {
      a = { type: "label", lon: lon, lat: lat, text: text };
    }
    if (doc.annotations.length >= cfg.maxAnnotations) return;
    doc.annotations.push(a);
    $("st-ann-text").value = "";
    $("st-ann-note").value = "";
    changed();
    status(T.added + ": " + annotationText(a));
  }

  function showAnnotationFields() {
    var type = $("st-ann-type").value;
    document.querySelectorAll("#st-annotations [data-for]").forEach(function (label) {
      var want = label.getAttribute("data-for");
      label.hidden = !(want === type || (want === "line" && type === "arrow"));
    });
  }

  // ------------------------------------------------------------ form <-> document
  function readForm() {
    document.querySelectorAll("[data-text]").forEach(function (input) {
      doc[input.getAttribute("data-text")] = input.value;
    });
    doc.lang = $("st-lang").value;
    doc.dark = $("st-dark").value;
    doc.size = $("st-size").value;
    doc["static"] = $("st-static").checked;
    doc.inset = $("st-inset").checked;
  }

  function fillForm() {
    document.querySelectorAll("[data-text]").forEach(function (input) {
      input.value = doc[input.getAttribute("data-text")] || "";
    });
    $("st-lang").value = doc.lang;
    $("st-dark").value = doc.dark;
    $("st-size").value = doc.size;
    $("st-static").checked = !!doc["static"];
    $("st-inset").checked = doc.inset !== false;
  }

  var previewTimer = null;
  function changed() {
    dirty = true;
    renderItems();
    renderAnnotations();
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 350);
  }

  // The live preview is the page the draft would publish now, drawn by the renderer of
  // published versions (annotations, dek, source, byline): the draft is posted (a form
  // whose target is the preview frame, so the frame shows a real response of this origin)
  // to api/maps/preview, which stores nothing. Debounced by changed(); an unchanged draft
  // is not posted again.
  var lastPreview = null;
  function preview() {
    var frame = $("st-frame");
    var empty = KINDS.every(function (k) { return !doc.items[k].length; });
    $("st-preview-empty").hidden = !empty;
    frame.hidden = empty;
    if (empty) return;
    var draft = JSON.parse(JSON.stringify(doc));
    delete draft.notes;  // private: never drawn, so never sent for a preview
    var body = JSON.stringify(draft);
    if (body === lastPreview) return;
    lastPreview = body;
    $("st-preview-doc").value = body;
    $("st-preview-form").submit();
  }

  function setWidth(width) {
    var frame = $("st-frame");
    frame.style.width = width ? width + "px" : "100%";
    document.querySelectorAll(".st-widths button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-width") === (width || "")));
    });
  }

  // ------------------------------------------------------------ API
  function api(method, path, body, extra) {
    var headers = Object.assign({ accept: "application/json" }, extra || {});
    if (token) headers.authorization = "Bearer " + token;
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(base + path, { method: method, headers: headers,
                                body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          return { status: r.status, ok: r.ok, data: data, etag: r.headers.get("etag") };
        });
      });
  }

  function fail(r) {
    if (r.status === 412) { status(T.stale, true); return; }
    var detail = r.data && r.data.detail ? r.data.detail : String(r.status);
    status(T.error + " " + r.status + ": " + detail, true);
  }

  function rememberEditLink() {
    var url = base + "studio?map=" + mapId + (cfg.lang !== "en" ? "&lang=" + cfg.lang : "") + "#token=" + token;
    history.replaceState(null, "", url);
    var a = $("st-edit-url");
    a.textContent = url;
    a.href = url;
  }

  function save() {
    readForm();
    status(T.saving);
    var req = mapId
      ? api("PUT", "api/maps/" + mapId, doc, { "if-match": etag })
      : api("POST", "api/maps", doc);
    return req.then(function (r) {
      if (!r.ok) { fail(r); throw r; }
      if (!mapId) { mapId = r.data.id; token = r.data.edit_token; }
      etag = r.etag || r.data.etag;
      dirty = false;
      rememberEditLink();
      status(T.saved);
      return r;
    });
  }

  function publish() {
    readForm();
    if (KINDS.every(function (k) { return !doc.items[k].length; })) { status(T.need_items, true); return; }
    var ready = dirty || !mapId ? save() : Promise.resolve();
    ready.then(function () {
      status(T.publishing);
      return api("POST", "api/maps/" + mapId + "/publish", undefined, { "if-match": etag });
    }).then(function (r) {
      if (r.status === 409) {  // nothing new: show the latest version again
        return api("GET", "api/maps/" + mapId + "/versions").then(function (v) {
          var all = v.data ? v.data.versions : [];
          if (all.length) showResult(all[all.length - 1]);
          fail(r);
        });
      }
      if (!r.ok) { fail(r); return; }
      showResult(r.data);
      status(T.published.replace("{n}", r.data.n));
    }).catch(function () { /* reported by save() */ });
  }

  function showResult(v) {
    var box = $("st-result");
    box.hidden = false;
    var page = $("st-page-url");
    page.textContent = v.urls.page;
    page.href = v.urls.page;
    $("st-snippet").value = v.snippet;
    $("st-png").href = v.urls.png;
    $("st-oembed").href = v.urls.oembed;
    $("st-data-as-of").textContent = T.data_as_of + " " + v.data_time.slice(0, 10) + " (" + v.data_version + ")";
    box.focus();
  }

  function copySnippet() {
    var area = $("st-snippet");
    var done = function () { status(T.copied); };
    var fallback = function () {
      area.focus();
      area.select();
      try { if (document.execCommand("copy")) { done(); return; } } catch (e) { /* below */ }
      status(T.copy_failed, true);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(done, fallback);
    } else {
      fallback();
    }
  }

  function startFrom(which) {
    var keep = doc;
    doc = emptyDoc();
    ["title", "dek", "caption", "source", "byline", "notes", "alt", "lang", "dark", "static",
     "inset", "size"].forEach(function (k) { doc[k] = keep[k]; });
    doc.annotations = keep.annotations;
    if (which === "frontier") {
      doc.items.borders = ["BY-RU"];
      doc.items.countries = ["BY", "RU"];
      doc.items.crossings = lists.crossings.filter(function (c) { return c.border === "BY-RU"; })
        .map(function (c) { return c.id; });
    }
    changed();
  }

  function loadSaved() {
    var m = /token=([^&]+)/.exec(location.hash || "");
    token = m ? decodeURIComponent(m[1]) : null;
    if (!mapId || !token) { mapId = null; return Promise.resolve(); }
    return api("GET", "api/maps/" + mapId).then(function (r) {
      if (!r.ok) { fail(r); mapId = null; token = null; return; }
      etag = r.etag || r.data.etag;
      doc = r.data.document;
      fillForm();
      dirty = false;
      rememberEditLink();
      var missing = doc.items.places.filter(function (id) { return !names["places:" + id]; });
      return Promise.all(missing.map(function (id) {
        return fetch(base + "collections/places/items/" + encodeURIComponent(id))
          .then(function (x) { return x.ok ? x.json() : null; })
          .then(function (f) { if (f) names["places:" + id] = localName(f.properties || {}) || id; });
      }));
    });
  }

  // ------------------------------------------------------------ wiring
  function init() {
    document.querySelectorAll("[data-text]").forEach(function (input) {
      var name = input.getAttribute("data-text");
      if (cfg.limits[name]) input.setAttribute("maxlength", cfg.limits[name]);
      input.addEventListener("input", function () { readForm(); changed(); });
    });
    ["st-lang", "st-dark", "st-size", "st-static", "st-inset"].forEach(function (id) {
      $(id).addEventListener("change", function () { readForm(); changed(); });
    });
    $("st-lang").value = cfg.lang;
    var input = $("st-search");
    input.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { search(input.value); }, 200);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") {
        var first = $("st-results").querySelector("button:not([disabled])");
        if (first) { e.preventDefault(); first.focus(); }
      }
    });
    $("st-results").addEventListener("keydown", function (e) {
      if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
      var buttons = Array.prototype.slice.call($("st-results").querySelectorAll("button"));
      var i = buttons.indexOf(document.activeElement);
      e.preventDefault();
      if (e.key === "ArrowUp" && i <= 0) { input.focus(); return; }
      var next = buttons[Math.min(buttons.length - 1, i + (e.key === "ArrowDown" ? 1 : -1))];
      if (next) next.focus();
    });
    document.querySelectorAll("[data-start]").forEach(function (b) {
      b.addEventListener("click", function () { startFrom(b.getAttribute("data-start")); });
    });
    document.querySelectorAll(".st-widths button").forEach(function (b) {
      b.addEventListener("click", function () { setWidth(b.getAttribute("data-width")); });
    });
    $("st-ann-type").addEventListener("change", showAnnotationFields);
    $("st-ann-add").addEventListener("click", addAnnotation);
    $("st-save").addEventListener("click", function () { save().catch(function () {}); });
    $("st-publish").addEventListener("click", publish);
    $("st-copy").addEventListener("click", copySnippet);
    $("st-form").addEventListener("submit", function (e) { e.preventDefault(); });
    showAnnotationFields();
    Promise.all(["borders", "crossings", "countries"].map(loadLayer))
      .then(loadSaved)
      .then(function () { changed(); dirty = !mapId; });
  }

  init();
})();
