"""The nearest-border search behind ``/locate`` and ``/places/{id}/borders``
(``line_index.LineIndex``) against the exact answer (``geometry.nearest_point``: an
azimuthal equidistant projection centred on the query point) for the committed borders:
points a few metres to hundreds of kilometres off every border, on both sides, and a
grid over the whole region the API is asked about."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from service.domain import geometry
from service.domain.line_index import LineIndex

GEOD = Geod(ellps="WGS84")
TOLERANCE_KM = 0.00005  # 5 cm


@pytest.fixture(scope="module")
def borders(geo):
    features, geoms = geo["borders"]
    return [f["id"] for f in features], geoms, LineIndex(geoms)


def _off_border_points(geoms, rng):
    """Per border: points at 5 m … 300 km either side of a few of its vertices (the side
    is left or right of the line's direction there)."""
    points = []
    for owner, geom in enumerate(geoms):
        coords = shapely.get_coordinates(geom)
        for i in rng.choice(len(coords) - 1, size=3, replace=False):
            (lon1, lat1), (lon2, lat2) = coords[i], coords[i + 1]
            heading = GEOD.inv(lon1, lat1, lon2, lat2)[0]
            for side in (-90.0, 90.0):
                for metres in (5.0, 800.0, 25_000.0, 300_000.0):
                    lon, lat, _ = GEOD.fwd(lon1, lat1, heading + side, metres)
                    points.append((owner, float(lon), float(lat), metres))
    return points


def test_every_border_from_both_sides_matches_the_exact_answer(borders):
    ids, geoms, index = borders
    rng = np.random.default_rng(4)
    for owner, lon, lat, metres in _off_border_points(geoms, rng):
        found = index.nearest(lon, lat)[owner]
        exact = geometry.nearest_point(lon, lat, geoms[owner])
        assert found.distance_km == pytest.approx(exact.distance_km, abs=TOLERANCE_KM), (
            ids[owner], lon, lat, metres)
        # The reported point is where the distance was measured.
        measured = GEOD.inv(lon, lat, found.lon, found.lat)[2] / 1000
        assert measured == pytest.approx(found.distance_km, abs=1e-6)
        if metres <= 800.0:  # close to a vertex: never farther than that vertex
            assert found.distance_km <= metres / 1000 + 1e-6


def test_a_grid_over_the_region_matches_the_exact_answer_for_every_border(borders):
    ids, geoms, index = borders
    for lon in np.linspace(19.0, 40.0, 6):
        for lat in np.linspace(49.0, 58.5, 5):
            found = index.nearest(float(lon), float(lat))
            for owner, geom in enumerate(geoms):
                exact = geometry.nearest_point(float(lon), float(lat), geom)
                assert found[owner].distance_km == pytest.approx(
                    exact.distance_km, abs=TOLERANCE_KM), (ids[owner], lon, lat)
            # Asking only for the nearest border gives the same border and figures.
            only = [row for row in index.nearest(float(lon), float(lat), True) if row]
            best = min(found, key=lambda row: row.distance_km)
            assert min(only, key=lambda row: row.distance_km) == best


def test_points_on_a_border_and_far_from_every_border(borders):
    ids, geoms, index = borders
    lon, lat = shapely.get_coordinates(geoms[0])[10]
    assert index.nearest(float(lon), float(lat))[0].distance_km == pytest.approx(0.0, abs=1e-6)
    # Across the continent (Lisbon): still every border, each with its exact distance.
    far = index.nearest(-9.14, 38.72)
    for owner, geom in enumerate(geoms):
        exact = geometry.nearest_point(-9.14, 38.72, geom)
        assert far[owner].distance_km == pytest.approx(exact.distance_km, rel=1e-4), ids[owner]
