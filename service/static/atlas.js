/* Frontier Atlas map pages: draws the vector basemap, borders, places and crossings
 * from the JSON the server embeds, and reports the page height to an embedding page
 * (pym.js, AMP embed-size and our own message). Text is only ever set with
 * textContent: nothing from the data is parsed as HTML. */
(function () {
  'use strict';
  var FA = (window.FrontierAtlas = {});
  var REDUCED = !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);
  // A phone or tablet: one finger must scroll the article, so the map moves with two.
  var COARSE = !!(window.matchMedia && window.matchMedia('(pointer: coarse)').matches);
  FA.reducedMotion = REDUCED;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function popup(p) {
    var box = el('div', 'fa-popup');
    box.appendChild(el('h2', 'fa-popup-title', (p.n ? p.n + '. ' : '') + p.name));
    if (p.sub) box.appendChild(el('p', 'fa-popup-sub', p.sub));
    if (p.rows && p.rows.length) {
      var table = el('table');
      p.rows.forEach(function (r) {
        var tr = el('tr');
        tr.appendChild(el('th', null, r[0]));
        tr.appendChild(el('td', null, r[1]));
        table.appendChild(tr);
      });
      box.appendChild(table);
    }
    return box;
  }

  // A point: [leader line] + pin (dot or numbered badge, with its label beside it).
  // The pin moves away from its true position when badges crowd; the leader line then
  // joins it to a small mark at the true position.
  function pointIcon(p, labels) {
    var wrap = el('span', 'fa-point fa-side-' + (p.side || 'right'));
    var pin = el('span', 'fa-pin');
    if (p.n) {
      wrap.appendChild(el('span', 'fa-leader'));
      wrap.appendChild(el('span', 'fa-true-pos'));
      pin.appendChild(el('span', 'fa-num fa-status-' + (p.status || 'open'), p.n));
    } else {
      pin.appendChild(el('span', 'fa-dot fa-dot-' + p.kind + (p.focus ? ' fa-dot-focus' : '')));
    }
    if (labels) {
      var label = el('span', 'fa-label' + (p.focus ? ' fa-label-focus' : '') +
                     (p.n ? ' fa-label-crossing' : ''), p.name);
      label.setAttribute('data-rank', String(p.rank || 0));
      label.setAttribute('aria-hidden', 'true');  // the marker's own name says it
      // a space between the number and the name: the visible text reads "1 Name"
      pin.appendChild(document.createTextNode(' '));
      pin.appendChild(label);
    }
    wrap.appendChild(pin);
    return L.divIcon({
      html: wrap,
      className: p.n ? 'fa-marker fa-crossing fa-crossing-' + (p.status || 'open')
                     : 'fa-marker fa-place fa-place-' + p.kind,
      iconSize: p.n ? [22, 22] : [14, 14],
      iconAnchor: p.n ? [11, 11] : [7, 7],
      popupAnchor: [0, -8]
    });
  }

  function addPoint(map, p, labels) {
    var name = (p.n ? p.n + ' ' : '') + p.name;  // begins with the number the badge shows
    var marker = L.marker(p.ll, {
      icon: pointIcon(p, labels),
      title: name,
      keyboard: true,
      riseOnHover: true,
      zIndexOffset: p.n ? 500 : (p.focus ? 800 : 0),
      pane: 'faPoints'
    });
    marker.bindPopup(function () { return popup(p); }, { maxWidth: 300, autoPanPadding: [16, 16] });
    marker.addTo(map);
    var icon = marker.getElement();
    if (icon) {
      icon.setAttribute('data-id', p.id);
      icon.setAttribute('aria-label', name);
      icon.setAttribute('data-n', p.n ? String(p.n) : '');
    }
    return marker;
  }

  // A text of the journalist's, centred on its point; declutter() moves it off a dot
  // or another text and then draws its leader line back to the point.
  function annotationText(map, ll, text, cls) {
    var wrap = el('span', 'fa-ann-anchor');
    wrap.appendChild(el('span', 'fa-ann-leader'));
    wrap.appendChild(el('span', 'fa-ann-body', text));
    L.marker(ll, { pane: 'faNotes', interactive: false, keyboard: false,
                   icon: L.divIcon({ className: 'fa-ann-text ' + cls, html: wrap, iconSize: null }) }).addTo(map);
  }

  // A journalist's own marks (saved maps): a text label, a pin whose note opens in a
  // popup, a line or an arrow. Their texts are user text: textContent only.
  function addAnnotation(map, a) {
    if (!map.getPane('faNotes')) map.createPane('faNotes').style.zIndex = 620;
    if (a.kind === 'line') {
      var line = L.polyline(a.ll, { pane: 'faNotes', className: 'fa-ann-line', weight: 2.5,
                                    interactive: !!a.text });
      if (a.text) line.bindTooltip(el('span', null, a.text), { sticky: true, className: 'fa-tip' });
      line.addTo(map);
      if (a.arrow) {
        // Mercator is conformal: the arrowhead's angle is the same at every zoom.
        var p0 = map.project(a.ll[0], 10), p1 = map.project(a.ll[1], 10);
        var deg = Math.atan2(p1.y - p0.y, p1.x - p0.x) * 180 / Math.PI;
        var head = el('span', 'fa-ann-head');
        head.style.transform = 'rotate(' + deg + 'deg)';
        L.marker(a.ll[1], { pane: 'faNotes', interactive: false, keyboard: false,
                            icon: L.divIcon({ className: 'fa-ann-arrow', html: head,
                                              iconSize: [14, 14], iconAnchor: [7, 7] }) }).addTo(map);
      }
      if (a.text) {
        var mid = [(a.ll[0][0] + a.ll[1][0]) / 2, (a.ll[0][1] + a.ll[1][1]) / 2];
        annotationText(map, mid, a.text, 'fa-ann-line-text');
      }
      return;
    }
    if (a.kind === 'label') {
      annotationText(map, a.ll[0], a.text, 'fa-ann-label');
      return;
    }
    var wrap = el('span', 'fa-ann-marker');
    wrap.appendChild(el('span', 'fa-ann-pin'));
    wrap.appendChild(el('span', 'fa-ann-text', a.text));
    var marker = L.marker(a.ll[0], { pane: 'faNotes', keyboard: true, title: a.text,
                                     icon: L.divIcon({ className: 'fa-marker fa-ann', html: wrap,
                                                       iconSize: [16, 16], iconAnchor: [8, 16],
                                                       popupAnchor: [0, -14] }) });
    marker.bindPopup(function () {
      var box = el('div', 'fa-popup');
      box.appendChild(el('h2', 'fa-popup-title', a.text));
      if (a.note) box.appendChild(el('p', 'fa-popup-note', a.note));
      return box;
    }, { maxWidth: 300, autoPanPadding: [16, 16] });
    marker.addTo(map);
    var icon = marker.getElement();
    if (icon) icon.setAttribute('aria-label', a.text);
  }

  FA.draw = function (map, d) {
    var t = d.ui || {};
    map.createPane('faLand').style.zIndex = 250;
    map.createPane('faContext').style.zIndex = 300;
    map.getPane('faContext').style.pointerEvents = 'none';
    map.createPane('faHalos').style.zIndex = 410;
    map.createPane('faBorders').style.zIndex = 420;
    map.createPane('faCountryLabels').style.zIndex = 430;
    map.createPane('faPoints').style.zIndex = 610;
    map.getPane('faLand').style.pointerEvents = 'none';
    map.getPane('faHalos').style.pointerEvents = 'none';
    map.getPane('faCountryLabels').style.pointerEvents = 'none';
    var root = map.getContainer();
    root.classList.add(d.tiles ? 'fa-with-tiles' : 'fa-no-tiles');

    L.geoJSON(d.countries, {
      pane: 'faLand', interactive: false,
      style: function (f) {
        return { className: 'fa-country fa-country-' + f.properties.id +
                 (f.properties.focus ? ' fa-country-focus' : ''), weight: 0.6 };
      }
    }).addTo(map);

    // Context under the borders: lakes, rivers (wider for major ones), region lines.
    var ctx = d.context;
    if (ctx) {
      if (ctx.lakes) L.geoJSON(ctx.lakes, { pane: 'faContext', interactive: false,
                                            style: { className: 'fa-lake', weight: 0.5 } }).addTo(map);
      L.geoJSON(ctx.rivers, { pane: 'faContext', interactive: false, style: function (f) {
        return { className: 'fa-river', weight: f.properties.weight, lineCap: 'round', lineJoin: 'round' };
      } }).addTo(map);
      if (ctx.regions) L.geoJSON(ctx.regions, { pane: 'faContext', interactive: false,
                                                style: { className: 'fa-region', weight: 0.9, dashArray: '3 3' } }).addTo(map);
    }

    FA.countryLabels = d.countryLabels.map(function (c) {
      var marker = L.marker(c.ll, {
        pane: 'faCountryLabels', interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'fa-country-label', html: el('span', null, c.name), iconSize: null })
      }).addTo(map);
      return { marker: marker, spots: [c.ll].concat(c.alt || []) };
    });

    var casing = L.geoJSON(d.borders, {
      pane: 'faBorders', interactive: false,
      style: function (f) {
        return { className: 'fa-border-casing' + (f.properties.focus ? ' fa-focus' : ''),
                 weight: f.properties.focus ? 7 : 3.5, lineCap: 'round', lineJoin: 'round' };
      }
    });
    casing.addTo(map);
    L.geoJSON(d.borders, {
      pane: 'faBorders',
      style: function (f) {
        return { className: 'fa-border fa-border-' + f.properties.id + (f.properties.focus ? ' fa-focus' : ''),
                 weight: f.properties.focus ? 3.5 : 1.6, lineCap: 'round', lineJoin: 'round' };
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(el('span', null, f.properties.name), { sticky: true, className: 'fa-tip' });
      }
    }).addTo(map);

    L.geoJSON(d.links, {
      pane: 'faBorders',
      style: function () { return { className: 'fa-link', weight: 2, dashArray: '6 5' }; },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(el('span', null, f.properties.label), { sticky: true, className: 'fa-tip' });
      }
    }).addTo(map);

    // Uncertainty: a shaded circle of the stated precision around an approximate position.
    d.crossings.forEach(function (p) {
      if (!p.prec) return;
      L.circle(p.ll, { radius: p.prec, pane: 'faHalos', interactive: false,
                       className: 'fa-halo fa-halo-' + (p.status || 'open'), weight: 1 }).addTo(map);
    });

    d.places.forEach(function (p) { addPoint(map, p, d.labels); });
    d.crossings.forEach(function (p) { addPoint(map, p, d.labels); });
    (d.annotations || []).forEach(function (a) { addAnnotation(map, a); });

    controls(map, d, t);
    // A page framed in a hidden or zero-sized iframe (a closed tab, an accordion, lazy
    // layout) has no size yet: fitting to it gives NaN. Show the centre for now and fit
    // the map the first time it gets a size.
    var unsized = !hasSize(map);
    var home = function (instant) {
      if (!hasSize(map)) {
        map.setView(L.latLngBounds(d.bounds).getCenter(), 6, { animate: false });
        return;
      }
      map.fitBounds(d.bounds, { padding: [18, 18], animate: !REDUCED && !instant });
    };
    limitView(map, d);
    home();
    FA.home = home;
    declutter(map);
    // Labels are placed after every move, and again a moment later: a pass made while a
    // zoom animation is still settling measures moved boxes and hid labels needlessly.
    var again = null;
    var place = function () {
      declutter(map);
      clearTimeout(again);
      again = setTimeout(function () { declutter(map); }, 150);
    };
    map.on('zoomend moveend resize', place);
    // and once the page has settled (the inset's opening transition lasts 0.6 s)
    // and says so (data-settled: tests and screenshot tools wait for it, not a guess).
    setTimeout(function () {
      var fonts = document.fonts ? document.fonts.ready : Promise.resolve();
      fonts.then(function () {  // label widths are final once the fonts are
        declutter(map);
        root.setAttribute('data-settled', 'true');
      });
    }, 800);
    var staticBounds = function () { if (d.static) map.setMaxBounds(map.getBounds().pad(0.05)); };
    map.on('resize', function (e) {
      limitView(map, d);
      // Grown from nothing (the frame was hidden or squeezed to no height): fit again.
      if (!unsized && (e.oldSize.x === 0 || e.oldSize.y === 0) && hasSize(map)) home(true);
    });
    if (!unsized) staticBounds();
    else if (window.ResizeObserver) {
      var sizing = new ResizeObserver(function () {
        map.invalidateSize({ animate: false });
        if (!hasSize(map)) return;
        sizing.disconnect();
        unsized = false;
        limitView(map, d);
        home(true);
        staticBounds();
        place();
      });
      sizing.observe(map.getContainer());
    }

    map.attributionControl.setPrefix(d.prefix || false);
    map.attributionControl.addAttribution(d.attribution);

    if (!d.static) {
      wheelZoom(map, d.zoomHint);
      if (COARSE) twoFingers(map, t.two_fingers);
    }
    // Esc closes an open popup from anywhere on the page and gives focus back to its marker.
    document.addEventListener('keydown', function (e) {
      if (e.key !== 'Escape' || !map._popup || !map.hasLayer(map._popup)) return;
      var source = map._popup._source;
      map.closePopup();
      if (source && source.getElement) source.getElement().focus();
    });
    FA.map = map;
    FA.fit();
    window.addEventListener('resize', FA.fit);
    root.setAttribute('data-ready', 'true');
  };

  // ------------------------------------------------------------------ framed pages
  function framed() {
    try { return window.parent !== window; } catch (e) { return true; }
  }

  // In an iframe the page fits its map to the height it was given, so that nothing is cut
  // when the embedding page cannot resize the iframe (a CMS that strips the snippet's
  // script keeps the snippet's width-based height): the map takes what the text leaves,
  // between a minimum and 1.6 times its own height. The page still reports the height it
  // would have with its own map height (FA.ownMapHeight), so a resizing parent gives it that.
  FA.fit = function () {
    if (!framed() || !FA.map) return;
    var box = FA.map.getContainer();
    var before = box.style.height;
    box.style.height = '';
    var own = box.getBoundingClientRect().height;
    var other = document.documentElement.getBoundingClientRect().height - own;
    FA.ownMapHeight = own;
    var room = Math.floor(window.innerHeight - other);
    var h = Math.max(Math.min(own, 260), Math.min(room, Math.round(own * 1.6)));
    box.style.height = Math.abs(h - own) > 1 ? h + 'px' : '';
    if (box.style.height !== before) {
      FA.map.invalidateSize({ animate: false });
      if (FA.home) FA.home(true);
    }
  };

  // Land is land: the reader never sees past the basemap. The map may not be panned
  // outside the area our country polygons cover, nor zoomed out beyond it.
  function hasSize(map) {
    var size = map.getSize();
    return size.x > 0 && size.y > 0;
  }

  function limitView(map, d) {
    if (!d.viewLimit || !hasSize(map)) return;
    var limit = L.latLngBounds(d.viewLimit);
    map.options.maxBoundsViscosity = 1;
    map.setMaxBounds(limit);
    var z = map.getBoundsZoom(limit, true);
    map.setMinZoom(Math.max(z, 3));
  }

  // Zoom, full screen, reset view and scale bar, in the page's language; the controls
  // come first in the tab order (before the map's markers).
  function controls(map, d, t) {
    if (!d.static) {
      L.control.zoom({ zoomInTitle: t.zoom_in, zoomOutTitle: t.zoom_out }).addTo(map);
      var Reset = L.Control.extend({
        options: { position: 'topleft' },
        onAdd: function () {
          var bar = el('div', 'leaflet-bar leaflet-control fa-reset');
          var a = el('a', 'fa-reset-button');
          a.href = '#';
          a.setAttribute('role', 'button');
          a.setAttribute('aria-label', t.reset);
          a.title = t.reset;
          a.appendChild(el('span', 'fa-reset-icon'));
          L.DomEvent.disableClickPropagation(bar);
          L.DomEvent.on(a, 'click', function (e) {
            L.DomEvent.preventDefault(e);
            map.closePopup();
            FA.home();
          });
          bar.appendChild(a);
          return bar;
        }
      });
      new Reset().addTo(map);
    }
    // maxWidth: the bar is between half of it and all of it wide; at Leaflet's 100 px a
    // 50-px bar cut its "100 km" off (seen at 375 px).
    var scale = L.control.scale({ metric: true, imperial: false, maxWidth: 130 });
    var update = scale._updateScale;
    scale._updateScale = function (node, text, ratio) {
      text = String(text).replace(/ km$/, ' ' + (t.scale_km || 'km')).replace(/ m$/, ' ' + (t.scale_m || 'm'));
      return update.call(this, node, text, ratio);
    };
    scale.addTo(map);
    var root = map.getContainer();
    var corner = root.querySelector('.leaflet-control-container');
    if (corner) root.insertBefore(corner, root.firstChild);
  }

  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  function rect(left, top, w, h) {
    return { left: left, top: top, right: left + w, bottom: top + h };
  }

  // The journalist's own texts come first and are always shown: centred on their point
  // when that covers no dot, control or other text, else just above, below, beside or
  // further off, with a leader line back to the point once they are not beside it (a
  // label put on a town keeps the town's dot and name readable). Kept inside the frame.
  // The data's labels are placed afterwards, around them.
  function placeAnnotationTexts(root, frame, taken) {
    root.querySelectorAll('.fa-ann-anchor').forEach(function (anchor) {
      var body = anchor.querySelector('.fa-ann-body'), leader = anchor.querySelector('.fa-ann-leader');
      body.style.left = body.style.top = '';
      leader.style.display = '';
      var home = body.getBoundingClientRect();
      if (!home.width) return;
      var at = anchor.getBoundingClientRect();  // the anchor's top-left corner is the point
      var w = home.width, h = home.height, gap = 9;
      var near = [[0, 0], [0, -(h / 2 + gap)], [0, h / 2 + gap], [w / 2 + gap, 0], [-(w / 2 + gap), 0]];
      var far = [[w / 2 + gap, -(h / 2 + gap)], [-(w / 2 + gap), -(h / 2 + gap)],
                 [w / 2 + gap, h / 2 + gap], [-(w / 2 + gap), h / 2 + gap]];
      [2, 3].forEach(function (k) { far.push([0, -(h / 2 + gap * k + h * (k - 1))], [0, h / 2 + gap * k + h * (k - 1)]); });
      var fits = function (o) {
        var r = rect(home.left + o[0], home.top + o[1], w, h);
        var shift = r.left < frame.left + 4 ? frame.left + 4 - r.left
                  : r.right > frame.right - 4 ? frame.right - 4 - r.right : 0;
        r = rect(r.left + shift, r.top, w, h);
        var inside = r.top >= frame.top + 2 && r.bottom <= frame.bottom - 2;
        return { r: r, dx: o[0] + shift, dy: o[1], ok: inside && !taken.some(function (q) { return overlaps(q, r); }) };
      };
      var spot = null;
      near.concat(far).some(function (o) { var f = fits(o); if (f.ok) spot = f; return f.ok; });
      if (!spot) spot = fits([0, 0]);  // nowhere free: where it was put
      if (spot.dx) body.style.left = spot.dx + 'px';
      if (spot.dy) body.style.top = spot.dy + 'px';
      taken.push(spot.r);
      // The leader: from just off the point to the text's nearest edge.
      var nx = Math.min(Math.max(at.left, spot.r.left), spot.r.right) - at.left;
      var ny = Math.min(Math.max(at.top, spot.r.top), spot.r.bottom) - at.top;
      var len = Math.sqrt(nx * nx + ny * ny);
      if (len > gap + 4) {
        leader.style.left = (5 * nx / len) + 'px';
        leader.style.top = (5 * ny / len) + 'px';
        leader.style.width = (len - 7) + 'px';
        leader.style.transform = 'rotate(' + Math.atan2(ny, nx) + 'rad)';
        leader.style.display = 'block';
      }
    });
  }

  // Numbered badges that would cover each other move apart (a leader line joins each
  // moved badge to its true position); then labels, most important first, take their
  // preferred side, else the other, else above or below, else hide (the badge stays and the key names it).
  // Labels never cover a control, a badge, a dot or run off the map.
  function declutter(map) {
    var root = map.getContainer();
    var frame = root.getBoundingClientRect();
    var taken = [];
    root.querySelectorAll('.leaflet-control').forEach(function (c) {
      var r = c.getBoundingClientRect();
      if (r.width && r.height) taken.push({ left: r.left - 4, top: r.top - 4, right: r.right + 4, bottom: r.bottom + 4 });
    });
    root.querySelectorAll('.fa-dot').forEach(function (e) { taken.push(e.getBoundingClientRect()); });
    root.querySelectorAll('.fa-ann-marker .fa-ann-pin, .fa-ann-marker .fa-ann-text')
      .forEach(function (e) { var r = e.getBoundingClientRect(); if (r.width) taken.push(r); });
    placeAnnotationTexts(root, frame, taken);
    var badges = Array.prototype.slice.call(root.querySelectorAll('.fa-crossing'));
    badges.sort(function (a, b) { return (+a.dataset.n) - (+b.dataset.n); });
    var R = 24, dirs = [[0, -1], [1, 0], [0, 1], [-1, 0], [0.7, -0.7], [0.7, 0.7], [-0.7, 0.7], [-0.7, -0.7]];
    badges.forEach(function (marker) {
      var pin = marker.querySelector('.fa-pin'), leader = marker.querySelector('.fa-leader');
      pin.style.transform = '';
      marker.classList.remove('fa-moved');
      // The badge itself, not its label: labels are placed afterwards, by importance,
      // so a crossing's long name does not push a regional centre's label off the map.
      var home = (marker.querySelector('.fa-num') || marker).getBoundingClientRect();
      var placedRect = null, dx = 0, dy = 0;
      var tries = [[0, 0]];
      [1, 1.6].forEach(function (k) { dirs.forEach(function (v) { tries.push([v[0] * R * k, v[1] * R * k]); }); });
      tries.some(function (o) {
        var r = rect(home.left + o[0] - 1, home.top + o[1] - 1, home.width + 2, home.height + 2);
        var inside = r.left >= frame.left && r.right <= frame.right && r.top >= frame.top && r.bottom <= frame.bottom;
        if (!inside && (o[0] || o[1])) return false;
        if (taken.some(function (q) { return overlaps(q, r); })) return false;
        placedRect = r; dx = o[0]; dy = o[1];
        return true;
      });
      if (!placedRect) placedRect = home;
      taken.push(placedRect);
      if (dx || dy) {
        pin.style.transform = 'translate(' + dx + 'px,' + dy + 'px)';
        var len = Math.sqrt(dx * dx + dy * dy);
        leader.style.width = len + 'px';
        leader.style.transform = 'rotate(' + Math.atan2(dy, dx) + 'rad)';
        marker.classList.add('fa-moved');
      }
    });
    var labels = Array.prototype.slice.call(root.querySelectorAll('.fa-label'));
    labels.sort(function (a, b) { return (+b.dataset.rank) - (+a.dataset.rank); });
    labels.forEach(function (label) {
      var point = label.parentNode.parentNode;
      if (!point.dataset.side) point.dataset.side = point.classList.contains('fa-side-left') ? 'left' : 'right';
      var first = point.dataset.side, other = first === 'left' ? 'right' : 'left';
      label.style.visibility = '';
      var placed = [first, other, 'top', 'bottom'].some(function (side) {
        point.classList.remove('fa-side-left', 'fa-side-right', 'fa-side-top', 'fa-side-bottom');
        point.classList.add('fa-side-' + side);
        var r = label.getBoundingClientRect();
        var inside = r.left >= frame.left + 2 && r.right <= frame.right - 2 &&
                     r.top >= frame.top && r.bottom <= frame.bottom;
        if (inside && !taken.some(function (q) { return overlaps(q, r); })) {
          taken.push(r);
          return true;
        }
        return false;
      });
      if (!placed) {
        point.classList.remove('fa-side-left', 'fa-side-right', 'fa-side-top', 'fa-side-bottom');
        point.classList.add('fa-side-' + first);
        label.style.visibility = 'hidden';
      }
    });
    // Country names: the first of their spots where they cover nothing and stay inside.
    (FA.countryLabels || []).forEach(function (c) {
      var span = c.marker.getElement() && c.marker.getElement().querySelector('span');
      if (!span) return;
      span.style.visibility = '';
      var placed = c.spots.some(function (ll) {
        c.marker.setLatLng(ll);
        var r = span.getBoundingClientRect();
        var inside = r.left >= frame.left + 2 && r.right <= frame.right - 2 &&
                     r.top >= frame.top + 2 && r.bottom <= frame.bottom - 2;
        if (inside && !taken.some(function (q) { return overlaps(q, r); })) {
          taken.push(r);
          return true;
        }
        return false;
      });
      if (!placed) { c.marker.setLatLng(c.spots[0]); span.style.visibility = 'hidden'; }
    });
  }

  // No scroll-wheel trap: the page scrolls; ctrl/cmd + wheel (and trackpad pinch) zooms,
  // and a click or focus on the map enables plain wheel zoom until the pointer leaves.
  function wheelZoom(map, hintText) {
    var root = map.getContainer();
    var hint = el('div', 'fa-hint', hintText);
    hint.setAttribute('aria-hidden', 'true');
    root.appendChild(hint);
    var timer = null;
    root.addEventListener('wheel', function (e) {
      if (map.scrollWheelZoom.enabled()) return;
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        var point = map.mouseEventToContainerPoint(e);
        map.setZoomAround(point, map.getZoom() + (e.deltaY < 0 ? 0.5 : -0.5));
        return;
      }
      hint.classList.add('fa-hint-on');
      clearTimeout(timer);
      timer = setTimeout(function () { hint.classList.remove('fa-hint-on'); }, 1200);
    }, { passive: false });
    map.on('click focus', function () { map.scrollWheelZoom.enable(); });
    root.addEventListener('mouseleave', function () { map.scrollWheelZoom.disable(); });
  }

  // Touch: one finger scrolls the article (touch-action pan-x pan-y, no one-finger drag);
  // two fingers pinch and move the map (Leaflet's touch zoom follows the fingers).
  function twoFingers(map, hintText) {
    var root = map.getContainer();
    map.dragging.disable();
    root.classList.add('fa-touch');
    var hint = el('div', 'fa-hint fa-hint-touch', hintText);
    hint.setAttribute('aria-hidden', 'true');
    root.appendChild(hint);
    var timer = null;
    root.addEventListener('touchmove', function (e) {
      if (e.touches.length !== 1) { hint.classList.remove('fa-hint-on'); return; }
      hint.classList.add('fa-hint-on');
      clearTimeout(timer);
      timer = setTimeout(function () { hint.classList.remove('fa-hint-on'); }, 1200);
    }, { passive: true });
  }

  // The overview: Europe's outline at a fixed zoom, the focus country highlighted and
  // the main map's view marked on it.
  FA.inset = function (map, d) {
    if (!L.Control.MiniMap) return;
    var t = d.ui || {};
    var layer = L.geoJSON(d.countries, {
      interactive: false,
      style: function (f) {
        return { className: 'fa-inset-country' + (f.properties.focus ? ' fa-inset-focus' : ''), weight: 0.5 };
      }
    });
    var mini = new L.Control.MiniMap(layer, {
      position: 'bottomright', width: 120, height: 110, zoomLevelFixed: 2,
      toggleDisplay: true, minimized: window.innerWidth < 560, centerFixed: d.center,
      aimingRectOptions: { className: 'fa-inset-aim', weight: 2, interactive: false },
      shadowRectOptions: { className: 'fa-inset-shadow', weight: 1, interactive: false },
      strings: { hideText: t.inset_hide || 'Hide the overview map', showText: t.inset_show || 'Show the overview map' }
    }).addTo(map);
    var button = mini._toggleDisplayButton;
    if (button) {
      button.setAttribute('role', 'button');
      var name = function () { button.setAttribute('aria-label', button.title); };
      name();
      mini.on('toggle minimize restore', name);
      L.DomEvent.on(button, 'click', function () { setTimeout(name, 0); });
    }
    var corner = map.getContainer().querySelector('.leaflet-control-container');
    if (corner) map.getContainer().insertBefore(corner, map.getContainer().firstChild);
    // The inset is a new obstacle (and was none when the labels were first placed).
    declutter(map);
    mini.on('toggle minimize restore', function () { declutter(map); });
  };

  // ------------------------------------------------------------------ embed height
  function childId() {
    var m = /[?&]childId=([^&#]*)/.exec(window.location.search);
    return m ? decodeURIComponent(m[1]) : null;
  }

  FA.sendHeight = function () {
    if (window.parent === window) return;
    var h = document.documentElement.getBoundingClientRect().height;
    if (FA.ownMapHeight && FA.map) {  // the height with the map at its own height
      h += FA.ownMapHeight - FA.map.getContainer().getBoundingClientRect().height;
    }
    h = Math.ceil(h);
    if (!h || h === FA.lastHeight) return;
    FA.lastHeight = h;
    var id = childId();
    if (id) window.parent.postMessage('pymxPYMx' + id + 'xPYMx' + 'height' + 'xPYMx' + h, '*');
    window.parent.postMessage({ sentinel: 'amp', type: 'embed-size', height: h }, '*');
    window.parent.postMessage({ type: 'frontier-atlas:height', height: h }, '*');
  };

  function start() {
    FA.sendHeight();
    if (window.ResizeObserver) new ResizeObserver(FA.sendHeight).observe(document.documentElement);
    window.addEventListener('resize', FA.sendHeight);
    window.addEventListener('load', FA.sendHeight);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
