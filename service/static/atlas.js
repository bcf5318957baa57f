/* Frontier Atlas map pages: draws the vector basemap, borders, places and crossings
 * from the JSON the server embeds, and reports the page height to an embedding page
 * (pym.js, AMP embed-size and our own message). Text is only ever set with
 * textContent: nothing from the data is parsed as HTML. */
(function () {
  'use strict';
  var FA = (window.FrontierAtlas = {});

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

  function pointIcon(p, labels) {
    var wrap = el('span', 'fa-point fa-side-' + (p.side || 'right'));
    if (p.n) {
      wrap.appendChild(el('span', 'fa-num', p.n));
    } else {
      wrap.appendChild(el('span', 'fa-dot fa-dot-' + p.kind + (p.focus ? ' fa-dot-focus' : '')));
    }
    if (labels && !p.n) {
      var label = el('span', 'fa-label' + (p.focus ? ' fa-label-focus' : ''), p.name);
      label.setAttribute('data-rank', String(p.rank || 0));
      wrap.appendChild(label);
    }
    return L.divIcon({
      html: wrap,
      className: p.n ? 'fa-marker fa-crossing' : 'fa-marker fa-place fa-place-' + p.kind,
      iconSize: p.n ? [22, 22] : [14, 14],
      iconAnchor: p.n ? [11, 11] : [7, 7],
      popupAnchor: [0, -8]
    });
  }

  function addPoint(map, p, labels) {
    var marker = L.marker(p.ll, {
      icon: pointIcon(p, labels),
      title: (p.n ? p.n + '. ' : '') + p.name,
      alt: p.name,
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
      icon.setAttribute('aria-label', p.name);
    }
    return marker;
  }

  FA.draw = function (map, d) {
    map.createPane('faLand').style.zIndex = 250;
    map.createPane('faBorders').style.zIndex = 420;
    map.createPane('faCountryLabels').style.zIndex = 430;
    map.createPane('faPoints').style.zIndex = 610;
    map.getPane('faLand').style.pointerEvents = 'none';
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

    d.countryLabels.forEach(function (c) {
      L.marker(c.ll, {
        pane: 'faCountryLabels', interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'fa-country-label', html: el('span', null, c.name), iconSize: null })
      }).addTo(map);
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

    d.places.forEach(function (p) { addPoint(map, p, d.labels); });
    d.crossings.forEach(function (p) { addPoint(map, p, d.labels); });

    map.fitBounds(d.bounds, { padding: [18, 18] });
    declutter(map);
    map.on('zoomend moveend resize', function () { declutter(map); });
    if (d.static) map.setMaxBounds(map.getBounds().pad(0.05));

    map.attributionControl.setPrefix(d.prefix || false);
    map.attributionControl.addAttribution(d.attribution);

    if (!d.static) wheelZoom(map, d.zoomHint);
    root.setAttribute('data-ready', 'true');
    FA.map = map;
  };

  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  // Labels, most important first: keep each on its preferred side, else the other side,
  // else hide it (the point stays, and the list under the map names it). Country names
  // give way to place labels; labels never run off the map.
  function declutter(map) {
    var root = map.getContainer();
    var frame = root.getBoundingClientRect();
    var taken = [];
    root.querySelectorAll('.fa-num, .fa-dot').forEach(function (e) {
      taken.push(e.getBoundingClientRect());
    });
    var labels = Array.prototype.slice.call(root.querySelectorAll('.fa-label'));
    labels.sort(function (a, b) { return (+b.dataset.rank) - (+a.dataset.rank); });
    labels.forEach(function (label) {
      var point = label.parentNode;
      if (!point.dataset.side) point.dataset.side = point.classList.contains('fa-side-left') ? 'left' : 'right';
      var first = point.dataset.side, other = first === 'left' ? 'right' : 'left';
      label.style.visibility = '';
      var placed = [first, other].some(function (side) {
        point.classList.remove('fa-side-left', 'fa-side-right');
        point.classList.add('fa-side-' + side);
        var r = label.getBoundingClientRect();
        var inside = r.left >= frame.left + 2 && r.right <= frame.right - 2 &&
                     r.top >= frame.top && r.bottom <= frame.bottom;
        if (inside && !taken.some(function (t) { return overlaps(t, r); })) {
          taken.push(r);
          return true;
        }
        return false;
      });
      if (!placed) {
        point.classList.remove('fa-side-left', 'fa-side-right');
        point.classList.add('fa-side-' + first);
        label.style.visibility = 'hidden';
      }
    });
    root.querySelectorAll('.fa-country-label span').forEach(function (span) {
      span.style.visibility = '';
      var r = span.getBoundingClientRect();
      if (taken.some(function (t) { return overlaps(t, r); })) span.style.visibility = 'hidden';
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

  FA.inset = function (map, d) {
    if (!L.Control.MiniMap) return;
    var layer = L.geoJSON(d.countries, {
      interactive: false,
      style: function (f) {
        return { className: 'fa-inset-country fa-country-' + f.properties.id, weight: 0.5 };
      }
    });
    new L.Control.MiniMap(layer, {
      position: 'bottomright', width: 120, height: 120, zoomLevelOffset: -4,
      toggleDisplay: true, minimized: window.innerWidth < 560,
      aimingRectOptions: { className: 'fa-inset-aim', weight: 2, interactive: false },
      shadowRectOptions: { className: 'fa-inset-shadow', weight: 1, interactive: false },
      strings: { hideText: '−', showText: '+' }
    }).addTo(map);
  };

  // ------------------------------------------------------------------ embed height
  function childId() {
    var m = /[?&]childId=([^&#]*)/.exec(window.location.search);
    return m ? decodeURIComponent(m[1]) : null;
  }

  FA.sendHeight = function () {
    if (window.parent === window) return;
    var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
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
