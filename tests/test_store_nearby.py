"""The grid behind ``/places?near=`` (service/store/nearby.py) on the committed places:
its counts, k nearest and distances equal measuring every place, and the approximation it
uses to skip most exact measurements stays within its stated tolerance."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import orjson
import pytest
from pyproj import Geod

from service.domain import geometry
from service.store import nearby
from service.store.nearby import PlaceGrid, approx_km, tolerance_km

ROOT = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def places() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    features = orjson.loads((ROOT / "geodata" / "places.geojson").read_bytes())["features"]
    coords = np.array([f["geometry"]["coordinates"] for f in features], dtype=float)
    fids = np.arange(len(features), dtype=np.int64) + 1000  # as a backend numbers them
    return fids, coords[:, 0], coords[:, 1]


def test_approximation_stays_within_its_tolerance():
    rng = np.random.default_rng(11)
    n = 50_000
    lat1 = rng.uniform(-nearby.MAX_ABS_LAT, nearby.MAX_ABS_LAT, n)
    lon1 = rng.uniform(-179.0, 179.0, n)
    km = 10 ** rng.uniform(-4, np.log10(nearby.MAX_RADIUS_KM * 1.5), n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), km * 1000)
    exact = GEOD.inv(lon1, lat1, lon2, lat2)[2] / 1000
    error = np.abs(approx_km(lon1, lat1, lon2, lat2) - exact)
    assert (error <= tolerance_km(exact)).all(), float((error / exact).max())


def test_grid_round_trips_through_bytes(places):
    grid = PlaceGrid.build(*places)
    again = PlaceGrid.from_bytes(grid.to_bytes())
    assert len(again) == len(places[0])
    for name in ("keys", "lon", "lat", "fid"):
        assert np.array_equal(getattr(grid, name), getattr(again, name))
    with pytest.raises(ValueError):
        PlaceGrid.from_bytes(b"x" * 64)


@pytest.mark.parametrize(("small", "leaf"), [(4_096, 256), (0, 256), (0, 8), (0, 1)])
def test_grid_answers_equal_measuring_every_place(places, monkeypatch, small, leaf):
    monkeypatch.setattr(nearby, "SMALL", small)
    monkeypatch.setattr(nearby, "LEAF", leaf)
    fids, lons, lats = places
    grid = PlaceGrid.from_bytes(PlaceGrid.build(fids, lons, lats).to_bytes())
    rng = random.Random(small + leaf)
    for i in range(60):
        if i % 2:  # on a place (distance 0 and ties), else anywhere around the region
            j = rng.randrange(len(fids))
            lon, lat = float(lons[j]), float(lats[j])
        else:
            lon, lat = rng.uniform(20.0, 36.0), rng.uniform(49.0, 58.0)
        radius = rng.choice([0.05, 1.0, 10.0, 25.0, 60.0, 250.0, 1_000.0])
        box = geometry.degrees_around(lon, lat, radius)
        assert PlaceGrid.usable(lon, lat, radius, box)
        inside = (lons >= box.west) & (lons <= box.east) & (lats >= box.south) & (lats <= box.north)
        km = geometry.geodesic_distances_km(lon, lat, lons[inside], lats[inside])
        near = km <= radius
        order = np.lexsort((fids[inside][near], km[near]))
        want_fids, want_km = fids[inside][near][order], km[near][order]
        assert grid.count(lon, lat, radius, box) == len(want_fids)
        got_fids, got_km = grid.all_within(lon, lat, radius, box)
        assert sorted(got_fids.tolist()) == sorted(want_fids.tolist())
        for k in (1, 10, 137, len(want_fids) + 5):
            matched, top, top_km = grid.nearest(lon, lat, radius, box, k)
            assert matched == len(want_fids)
            assert top.tolist() == want_fids[:k].tolist()
            assert top_km.tolist() == want_km[:k].tolist()  # the exact function's values


@pytest.mark.parametrize("small", [4_096, 0])
def test_grid_counts_places_on_the_edge_of_the_circle(monkeypatch, small):
    """Places a hair inside and outside the radius (down to a nanometre per km), where the
    grid's shortcuts (a place counted or dropped by its arc alone, Lambert's estimate)
    must hand over to the exact distance: counts and k nearest as measuring every place."""
    monkeypatch.setattr(nearby, "SMALL", small)
    rng = np.random.default_rng(5)
    for lon, lat, radius in [(27.5, 53.9, 25.0), (30.0, 79.5, 25.0), (24.0, 52.0, 0.05),
                             (28.0, 55.0, 1_000.0), (25.0, 40.0, nearby.MAX_RADIUS_KM)]:
        n = 4_000
        factor = 1 + rng.choice([-1, 1], n) * 10 ** rng.uniform(-12, -1, n)
        plon, plat, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), rng.uniform(0, 360, n),
                                 radius * factor * 1000)
        fids = np.arange(n, dtype=np.int64)
        grid = PlaceGrid.from_bytes(PlaceGrid.build(fids, plon, plat).to_bytes())
        box = geometry.degrees_around(lon, lat, radius)
        inside = (plon >= box.west) & (plon <= box.east) & (plat >= box.south) & (plat <= box.north)
        km = geometry.geodesic_distances_km(lon, lat, plon, plat)
        near = inside & (km <= radius)
        assert 0 < near.sum() < inside.sum()
        assert grid.count(lon, lat, radius, box) == near.sum()
        order = np.lexsort((fids[near], km[near]))
        matched, top, top_km = grid.nearest(lon, lat, radius, box, 25)
        assert matched == near.sum()
        assert top.tolist() == fids[near][order][:25].tolist()


def test_grid_declines_boxes_across_the_antimeridian_or_near_a_pole():
    box = geometry.degrees_around(179.9, 10.0, 50.0)
    assert not PlaceGrid.usable(179.9, 10.0, 50.0, box)
    box = geometry.degrees_around(20.0, 85.0, 50.0)
    assert not PlaceGrid.usable(20.0, 85.0, 50.0, box)
