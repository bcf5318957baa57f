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
    // The intended view (FA.home): the content fitted to the map's size, within the view
    // limit. Until the reader moves the map, every size change (a frame grown from no
    // height by a CMS or pym.js, a hidden tab shown, full screen, a rotated phone) fits it
    // again, so the view a reader first sees depends only on the map's final size, not
    // on the order in which size, fonts and labels settled. A frame with no size yet
    // shows the centre (fitting to it gives NaN) and is fitted once it gets one.
    FA.moved = false;
    var home = function (instant) {
      if (!hasSize(map)) {
        map.setView(L.latLngBounds(d.bounds).getCenter(), 6, { animate: false });
        return;
      }
      var view = homeView(map, d);
      map.setView(view.center, view.zoom, { animate: !REDUCED && !instant });
    };
    FA.home = home;
    FA.homeView = function () { return homeView(map, d); };  // read-only, for tests
    var staticBounds = function () { if (d.static) map.setMaxBounds(map.getBounds().pad(0.05)); };
    var refit = function () {
      if (!hasSize(map)) return;
      limitView(map, d);
      if (!FA.moved) home(true);
      staticBounds();
    };
    limitView(map, d);
    home(true);
    staticBounds();
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
    map.on('resize', refit);  // Leaflet fires it only when the size really changed
    readerMoves(map);
    // Leaflet follows the window's size; a container resized by its page alone (a
    // grid, an accordion, a frame whose width is set by script) is followed here.
    if (window.ResizeObserver) {
      new ResizeObserver(function () { map.invalidateSize({ animate: false }); })
        .observe(map.getContainer());
    }
    // and once the page has settled (the inset's opening transition lasts 0.6 s)
    // and says so (data-settled: tests and screenshot tools wait for it, not a guess).
    // The last fit is made then, for the size the map has ended with.
    setTimeout(function () {
      var fonts = document.fonts ? document.fonts.ready : Promise.resolve();
      fonts.then(function () {  // label widths are final once the fonts are
        map.invalidateSize({ animate: false });
        refit();
        declutter(map);
        root.setAttribute('data-settled', 'true');
      });
    }, 800);

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
    // the map's resize event fits the view again (unless the reader has moved it)
    if (box.style.height !== before) FA.map.invalidateSize({ animate: false });
  };

  // Land is land: the reader never sees past the basemap. The map may not be panned
  // outside the area our country polygons cover, nor zoomed out beyond it.
  function hasSize(map) {
    var size = map.getSize();
    return size.x > 0 && size.y > 0;
  }

  // Leaflet's getBoundsZoom, without the clamp to the map's current minimum zoom (which
  // a smaller size set earlier, and which is what is being worked out).
  function boundsZoom(map, bounds, inside, padding) {
    var min = map.options.minZoom;
    map.options.minZoom = 0;
    var z = map.getBoundsZoom(bounds, inside, padding);
    map.options.minZoom = min;
    return z;
  }

  var PAD = 18;  // pixels between the content and the map's edge in the fitted view

  // What the reader must see: the places, checkpoints and the journalist's marks (the
  // content's bounds also hold lines and areas, which may run off the limit).
  function mustSee(d) {
    var lls = [];
    d.places.concat(d.crossings).forEach(function (p) { lls.push(p.ll); });
    (d.annotations || []).forEach(function (a) { lls = lls.concat(a.ll); });
    return lls.length ? L.latLngBounds(lls) : null;
  }

  // The limit for this size: the data's extent, widened where the points that must be
  // seen need more room at this aspect ratio than it has (a wide set of places on a
  // tall phone map, a mark beyond the data): content first, then land.
  function viewLimit(map, d) {
    var limit = L.latLngBounds(d.viewLimit);
    var minZoom = boundsZoom(map, limit, true);
    var points = mustSee(d);
    if (points) {
      // (a single point has no extent: its zoom is the map's maximum, or Infinity)
      var z = Math.min(boundsZoom(map, points, false, L.point(2 * PAD, 2 * PAD)), map.getMaxZoom(), 18);
      var sw = map.project(points.getSouthWest(), z).add([-PAD - 1, PAD + 1]);
      var ne = map.project(points.getNorthEast(), z).add([PAD + 1, -PAD - 1]);
      var need = L.latLngBounds(map.unproject(sw, z), map.unproject(ne, z));
      if (!limit.contains(need) || z < minZoom) {
        limit = L.latLngBounds(limit.getSouthWest(), limit.getNorthEast()).extend(need);
        minZoom = Math.min(minZoom, z);
        // and, where the view at that zoom is still larger than the limit, as large as
        // the view (around the limit's middle, where Leaflet centres such a view)
        var lo = map.project(limit.getNorthWest(), minZoom), hi = map.project(limit.getSouthEast(), minZoom);
        var size = map.getSize(), gx = Math.max(0, (size.x - (hi.x - lo.x)) / 2 + 1),
            gy = Math.max(0, (size.y - (hi.y - lo.y)) / 2 + 1);
        limit = L.latLngBounds(map.unproject(lo.subtract([gx, gy]), minZoom),
                               map.unproject(hi.add([gx, gy]), minZoom));
      }
    }
    return { bounds: limit, minZoom: Math.max(minZoom, 3) };
  }

  function limitView(map, d) {
    if (!d.viewLimit || !hasSize(map)) return;
    var limit = viewLimit(map, d);
    map.options.maxBoundsViscosity = 1;
    map.setMaxBounds(limit.bounds);
    map.setMinZoom(limit.minZoom);
  }

  // The view FA.home shows at the map's present size: the content's bounds fitted (as
  // fitBounds would), else, when the limit cannot hold them at this aspect ratio, the
  // points that must be seen; then kept inside the limit as Leaflet would keep it.
  function homeView(map, d) {
    var pad = L.point(2 * PAD, 2 * PAD);
    var target = L.latLngBounds(d.bounds);
    var min = d.viewLimit ? viewLimit(map, d).minZoom : map.getMinZoom();
    var zoom = boundsZoom(map, target, false, pad);
    var points = mustSee(d);
    if (zoom < min && points) {
      target = points;
      zoom = Math.min(boundsZoom(map, target, false, pad), map.getMaxZoom(), 18);
    }
    zoom = Math.min(Math.max(zoom, min), map.getMaxZoom());
    // the middle in projected pixels, as fitBounds takes it (not the mean latitude)
    var center = map.unproject(map.project(target.getSouthWest(), zoom)
      .add(map.project(target.getNorthEast(), zoom)).divideBy(2), zoom);
    if (d.viewLimit) center = map._limitCenter(center, zoom, viewLimit(map, d).bounds);
    return { center: center, zoom: zoom };
  }

  // The reader has moved the map (dragged, zoomed, used the keys, opened a popup): a
  // later size change keeps their view instead of fitting the map's own again.
  function readerMoves(map) {
    var root = map.getContainer();
    var moved = function () { FA.moved = true; };
    map.on('dragstart boxzoomend dblclick popupopen', moved);
    root.addEventListener('keydown', function (e) {
      if (/^(Arrow|\+$|-$|=$|_$)/.test(e.key)) moved();
    }, true);
    root.addEventListener('wheel', function (e) {
      if (e.ctrlKey || e.metaKey || map.scrollWheelZoom.enabled()) moved();
    }, { capture: true, passive: true });
    root.addEventListener('touchstart', function (e) { if (e.touches.length > 1) moved(); },
                          { capture: true, passive: true });
    root.addEventListener('click', function (e) {
      if (e.target.closest && e.target.closest('.leaflet-control-zoom')) moved();
    }, true);
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
            FA.moved = false;  // the reader asked for the map's own view: it is kept on resize again
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

  // Does the segment from (x0, y0) to (x1, y1) pass through box r? (Liang-Barsky clipping,
  // page pixels.) A leader line may not run through a label or a text.
  function crosses(x0, y0, x1, y1, r) {
    var t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
    var p = [-dx, dx, -dy, dy], q = [x0 - r.left, r.right - x0, y0 - r.top, r.bottom - y0];
    for (var i = 0; i < 4; i++) {
      if (p[i] === 0) { if (q[i] <= 0) return false; continue; }
      var t = q[i] / p[i];
      if (p[i] < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
      else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    return t1 - t0 > 1e-6;
  }

  // Free for a box: inside nothing taken, and no leader line through it.
  function free(r, taken, leaders) {
    return !taken.some(function (q) { return overlaps(q, r); }) &&
           !leaders.some(function (s) { return crosses(s[0], s[1], s[2], s[3], r); });
  }

  // A leader from (x0, y0) to (x1, y1) that runs through nothing already placed (its
  // start excepted: a dot, pin or badge the line starts under, such as the dot of the
  // place it points at; a text it starts under counts).
  function clearLine(x0, y0, x1, y1, taken) {
    return !taken.some(function (q) {
      var start = x0 >= q.left && x0 <= q.right && y0 >= q.top && y0 <= q.bottom &&
                  q.right - q.left <= 24 && q.bottom - q.top <= 24;
      return !start && crosses(x0, y0, x1, y1, q);
    });
  }

  // How much of box r the boxes in *boxes* cover (square pixels).
  function covered(r, boxes) {
    return boxes.reduce(function (sum, q) {
      var w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
      var h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      return sum + (w > 0 && h > 0 ? w * h : 0);
    }, 0);
  }

  // The first of *spots* that fits(spot, avoid) accepts with avoid = taken + soft; else
  // the one, among those that fit with taken alone, that covers the least of soft.
  function bestSpot(spots, fits, taken, soft) {
    var hard = taken.concat(soft), best = null, least = Infinity;
    for (var i = 0; i < spots.length; i++) {
      var f = fits(spots[i], hard);
      if (f) return f;
    }
    spots.forEach(function (o) {
      var f = fits(o, taken);
      if (!f) return;
      var c = covered(f.r, soft);
      if (c < least) { least = c; best = f; }
    });
    return best;
  }

  // Where the towns' names would go (their preferred side): the journalist's texts keep
  // off them where they can, so that a text put on a town does not hide its name.
  function preferredLabelBoxes(root) {
    var out = [];
    root.querySelectorAll('.fa-place .fa-label').forEach(function (label) {
      var point = label.parentNode.parentNode;
      if (!point.dataset.side) point.dataset.side = point.classList.contains('fa-side-left') ? 'left' : 'right';
      setSide(point, point.dataset.side);
      var r = label.getBoundingClientRect();
      if (r.width) out.push(r);
    });
    return out;
  }

  // A journalist's marker keeps its text beside the pin: right, else left, above or below,
  // whichever is inside the map and covers no dot, control, text or town name.
  function placeMarkerTexts(root, frame, taken, soft) {
    root.querySelectorAll('.fa-ann-marker').forEach(function (marker) {
      var text = marker.querySelector('.fa-ann-text');
      if (!text) return;
      text.style.left = text.style.top = '';
      var home = text.getBoundingClientRect();
      if (!home.width) return;
      var pin = marker.getBoundingClientRect(), w = home.width, h = home.height;
      var spots = [[0, 0], [pin.left - 2 - w - home.left, 0],
                   [pin.left + pin.width / 2 - w / 2 - home.left, pin.top - 1 - h - home.top],
                   [pin.left + pin.width / 2 - w / 2 - home.left, pin.bottom + 1 - home.top]];
      var fits = function (o, avoid) {
        var r = rect(home.left + o[0], home.top + o[1], w, h);
        var inside = r.left >= frame.left + 2 && r.right <= frame.right - 2 &&
                     r.top >= frame.top + 2 && r.bottom <= frame.bottom - 2;
        return inside && !avoid.some(function (q) { return overlaps(q, r); }) ? { r: r, o: o } : null;
      };
      var spot = bestSpot(spots, fits, taken, soft) || { r: rect(home.left, home.top, w, h), o: [0, 0] };
      var chosen = spot.r, at = spot.o;
      var base = [parseFloat(getComputedStyle(text).left) || 0, parseFloat(getComputedStyle(text).top) || 0];
      if (at[0] || at[1]) {
        text.style.left = (base[0] + at[0]) + 'px';
        text.style.top = (base[1] + at[1]) + 'px';
      }
      taken.push(chosen);
    });
  }

  // The journalist's own texts come first and are always shown: centred on their point
  // when that covers no dot, control, other text or town name, else just above, below,
  // beside or further off, with a leader line back to the point once they are not beside
  // it (a label put on a town keeps the town's dot and name readable); the leader runs
  // through nothing placed. Kept inside the frame. The data's labels are placed
  // afterwards, around them and off their leaders.
  function placeAnnotationTexts(root, frame, taken, soft, leaders) {
    // Texts put on the same point (within 3 px) make a pile: they go in a column beside
    // the point, where the leaders fan out to them without crossing one another's text.
    var anchors = Array.prototype.slice.call(root.querySelectorAll('.fa-ann-anchor'));
    var piles = {};
    anchors.forEach(function (anchor) {
      var r = anchor.getBoundingClientRect(), key = Math.round(r.left / 3) + ',' + Math.round(r.top / 3);
      anchor.faPile = piles[key] = piles[key] || [];
      piles[key].push(anchor);
    });
    anchors.forEach(function (anchor) {
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
      var pile = anchor.faPile;
      if (pile.length > 2) {
        var k = pile.indexOf(anchor), dy = (k - (pile.length - 1) / 2) * (h + 3);
        near = [[w / 2 + gap, dy], [-(w / 2 + gap), dy]];
      }
      var line = function (r) {  // from the point to the text's nearest edge
        return [Math.min(Math.max(at.left, r.left), r.right), Math.min(Math.max(at.top, r.top), r.bottom)];
      };
      var fits = function (o, avoid, anyLine) {
        var r = rect(home.left + o[0], home.top + o[1], w, h);
        var shift = r.left < frame.left + 4 ? frame.left + 4 - r.left
                  : r.right > frame.right - 4 ? frame.right - 4 - r.right : 0;
        r = rect(r.left + shift, r.top, w, h);
        var inside = r.top >= frame.top + 2 && r.bottom <= frame.bottom - 2;
        var end = line(r), drawn = Math.hypot(end[0] - at.left, end[1] - at.top) > gap + 4;
        var ok = inside && free(r, avoid, leaders) &&
                 (anyLine || !drawn || clearLine(at.left, at.top, end[0], end[1], avoid));
        return { r: r, dx: o[0] + shift, dy: o[1], ok: ok };
      };
      var spots = near.concat(far);
      var spot = bestSpot(spots, function (o, avoid) {
        var f = fits(o, avoid);
        return f.ok ? f : null;
      }, taken, soft) || bestSpot(spots, function (o, avoid) {
        // a pile of texts on one point: a leader may then cross a text rather than a
        // text cover a dot
        var f = fits(o, avoid, true);
        return f.ok ? f : null;
      }, taken, soft);
      if (!spot) spot = fits([0, 0], taken);  // nowhere free: where it was put
      if (spot.dx) body.style.left = spot.dx + 'px';
      if (spot.dy) body.style.top = spot.dy + 'px';
      taken.push(spot.r);
      var end = line(spot.r);
      var nx = end[0] - at.left, ny = end[1] - at.top;
      var len = Math.sqrt(nx * nx + ny * ny);
      if (len > gap + 4) {
        leader.style.left = (5 * nx / len) + 'px';
        leader.style.top = (5 * ny / len) + 'px';
        leader.style.width = (len - 7) + 'px';
        leader.style.transform = 'rotate(' + Math.atan2(ny, nx) + 'rad)';
        leader.style.display = 'block';
        leaders.push([at.left + 5 * nx / len, at.top + 5 * ny / len, end[0], end[1]]);
      }
    });
  }

  var SIDES = ['left', 'right', 'top', 'bottom', 'ne', 'se', 'nw', 'sw'];

  function setSide(point, side) {
    SIDES.forEach(function (s) { point.classList.remove('fa-side-' + s); });
    point.classList.add('fa-side-' + side);
  }

  // Numbered badges that would cover each other move apart (a leader line joins each
  // moved badge to its true position, running through no text or dot); then labels, most
  // important first, take their preferred side, else the other, else above or below,
  // else a corner, else hide (the badge stays and the key names it).
  // Labels never cover a control, a badge, a dot, a journalist's text or a leader line,
  // nor run off the map.
  function declutter(map) {
    var root = map.getContainer();
    var frame = root.getBoundingClientRect();
    var taken = [], leaders = [];
    root.querySelectorAll('.leaflet-control').forEach(function (c) {
      var r = c.getBoundingClientRect();
      if (r.width && r.height) taken.push({ left: r.left - 4, top: r.top - 4, right: r.right + 4, bottom: r.bottom + 4 });
    });
    root.querySelectorAll('.fa-dot').forEach(function (e) { taken.push(e.getBoundingClientRect()); });
    root.querySelectorAll('.fa-ann-marker .fa-ann-pin')
      .forEach(function (e) { var r = e.getBoundingClientRect(); if (r.width) taken.push(r); });
    // Badges at their true positions, and the towns' names: the journalist's texts keep
    // off them where they can (a text on a checkpoint would push its badge away).
    var badges = Array.prototype.slice.call(root.querySelectorAll('.fa-crossing'));
    badges.forEach(function (marker) {
      marker.querySelector('.fa-pin').style.transform = '';
      marker.classList.remove('fa-moved');
    });
    var soft = preferredLabelBoxes(root).concat(badges.map(function (marker) {
      return (marker.querySelector('.fa-num') || marker).getBoundingClientRect();
    }));
    placeMarkerTexts(root, frame, taken, soft);
    placeAnnotationTexts(root, frame, taken, soft, leaders);
    badges.sort(function (a, b) { return (+a.dataset.n) - (+b.dataset.n); });
    var R = 24, dirs = [[0, -1], [1, 0], [0, 1], [-1, 0], [0.7, -0.7], [0.7, 0.7], [-0.7, 0.7], [-0.7, -0.7]];
    badges.forEach(function (marker) {
      var pin = marker.querySelector('.fa-pin'), leader = marker.querySelector('.fa-leader');
      // The badge itself, not its label: labels are placed afterwards, by importance,
      // so a crossing's long name does not push a regional centre's label off the map.
      var home = (marker.querySelector('.fa-num') || marker).getBoundingClientRect();
      var cx = home.left + home.width / 2, cy = home.top + home.height / 2;
      var placedRect = null, dx = 0, dy = 0;
      var fits = function (o, avoid) {
        var r = rect(home.left + o[0] - 1, home.top + o[1] - 1, home.width + 2, home.height + 2);
        var inside = r.left >= frame.left && r.right <= frame.right && r.top >= frame.top && r.bottom <= frame.bottom;
        if (!inside && (o[0] || o[1])) return null;
        if (!free(r, avoid, leaders)) return null;
        // its leader, from the true position to the badge, runs through nothing placed
        if ((o[0] || o[1]) && !clearLine(cx, cy, cx + o[0], cy + o[1], avoid)) return null;
        return { r: r, o: o };
      };
      // At its true position if that is free; else moved, off the towns' names if it can be.
      var moves = [];
      [1, 1.6].forEach(function (k) { dirs.forEach(function (v) { moves.push([v[0] * R * k, v[1] * R * k]); }); });
      var spot = fits([0, 0], taken) || bestSpot(moves, fits, taken, soft);
      if (spot) { placedRect = spot.r; dx = spot.o[0]; dy = spot.o[1]; }
      if (!placedRect) placedRect = home;
      taken.push(placedRect);
      if (dx || dy) {
        pin.style.transform = 'translate(' + dx + 'px,' + dy + 'px)';
        var len = Math.sqrt(dx * dx + dy * dy);
        leader.style.width = len + 'px';
        leader.style.transform = 'rotate(' + Math.atan2(dy, dx) + 'rad)';
        marker.classList.add('fa-moved');
        // up to the badge's edge: the rest is under the badge
        var k = Math.max(0, (len - home.width / 2) / len);
        leaders.push([cx, cy, cx + dx * k, cy + dy * k]);
        taken.push(rect(cx - 4, cy - 4, 8, 8));  // the mark at its true position
      }
    });
    var labels = Array.prototype.slice.call(root.querySelectorAll('.fa-label'));
    labels.sort(function (a, b) { return (+b.dataset.rank) - (+a.dataset.rank); });
    labels.forEach(function (label) {
      var point = label.parentNode.parentNode;
      if (!point.dataset.side) point.dataset.side = point.classList.contains('fa-side-left') ? 'left' : 'right';
      var first = point.dataset.side, other = first === 'left' ? 'right' : 'left';
      var corners = first === 'left' ? ['nw', 'sw', 'ne', 'se'] : ['ne', 'se', 'nw', 'sw'];
      label.style.visibility = '';
      var placed = [first, other, 'top', 'bottom'].concat(corners).some(function (side) {
        setSide(point, side);
        var r = label.getBoundingClientRect();
        var inside = r.left >= frame.left + 2 && r.right <= frame.right - 2 &&
                     r.top >= frame.top && r.bottom <= frame.bottom;
        if (inside && free(r, taken, leaders)) {
          taken.push(r);
          return true;
        }
        return false;
      });
      if (!placed) {
        setSide(point, first);
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
        if (inside && free(r, taken, leaders)) {
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
    });
    // The inset is a locator with a fixed centre: it never moves the main map. (The
    // plug-in sets the main map to the inset's centre whenever the inset moves on its
    // own, as when its frame gets a size: a Divin map grown from a 0-px iframe ended up
    // on Minsk.)
    mini._onMiniMapMoved = function () { this._mainMapMoving = false; };
    mini.addTo(map);
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
