"""Service settings, read from the environment (prefix ``FRONTIER_ATLAS_``).

``HOST``, ``PORT`` and ``WORKERS`` are also read without the prefix so that
``make run`` honours the usual variables.

The environment stays one flat list of variables (the README's table), but each part
of the service is handed only its own group, a frozen record: ``settings.server``
(the CLI's ``serve``), ``settings.store`` (which backend, where), ``settings.http``
(caching, CORS, origins, proxies), ``settings.limits`` (query bounds),
``settings.maps`` (map pages and images) and ``settings.studio`` (saved maps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The committed data next to the package (works for the checkout and the Docker image).
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "geodata"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What `frontier-atlas serve` binds and logs."""

    host: str
    port: int
    workers: int
    log_level: str
    access_log: bool


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the data comes from: the embedded file (built from ``data_dir``) or PostGIS."""

    data_dir: Path
    file: Path
    mmap_bytes: int
    database_url: str | None
    pool_size: int


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The HTTP layer: landing title, caching, compression, CORS, origins and proxies."""

    title: str
    cache_max_age: int
    compress_min_bytes: int
    response_memo_bytes: int
    cors_origins: tuple[str, ...]
    public_base_url: str | None
    allowed_hosts: tuple[str, ...]
    trusted_proxies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds on the analytics queries' parameters."""

    max_radius_km: float
    max_zone_width_km: float


@dataclass(frozen=True, slots=True)
class MapSettings:
    """Map pages and images: tiles, attribution, context layers, render budget."""

    default_tiles: str
    tile_urls: tuple[tuple[str, str], ...]  # (name, URL template) for osm, light, dark
    attribution_prefix: str
    context_file: Path
    render_concurrency: int
    render_queue: int
    cache_entries: int

    def tile_url(self, name: str) -> str:
        """The URL template of the tiles called ``name`` (osm, light or dark)."""
        return dict(self.tile_urls)[name]


@dataclass(frozen=True, slots=True)
class StudioSettings:
    """Saved maps: where they are kept and how much one client may ask for."""

    state_dir: Path
    database_url: str | None  # PostgreSQL for saved maps; None: SQLite in state_dir
    pool_size: int
    creates_per_hour: int
    previews_per_hour: int
    max_body_bytes: int


class Settings(BaseSettings):
    """Every knob of the service; ``create_app(Settings(...))`` takes one instance."""

    model_config = SettingsConfigDict(
        env_prefix="FRONTIER_ATLAS_", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Directory with borders/countries/places/crossings .geojson files.",
    )
    store_file: Path | None = Field(
        None,
        description="The embedded store (SQLite) built from the data directory; default "
        "`<data_dir>/build/atlas.sqlite`. Built on start-up when missing or older than the data.",
    )
    store_mmap_mb: int = Field(
        1024, ge=0, description="Memory-map this much of the embedded store (MB; shared by "
        "every worker); 0 reads through SQLite's page cache instead (for hard memory limits).",
    )
    database_url: str | None = Field(
        None,
        description="PostgreSQL/PostGIS URL (e.g. postgresql://postgres@127.0.0.1:5432/"
        "frontier_atlas); when set, the service reads from it instead of the embedded store.",
    )
    database_pool: int = Field(4, ge=1, le=64, description="Connections per worker (PostGIS).")
    host: str = Field(
        "127.0.0.1",
        validation_alias=AliasChoices("host", "FRONTIER_ATLAS_HOST", "HOST"),
        description="Interface `frontier-atlas serve` binds to.",
    )
    port: int = Field(
        8000,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("port", "FRONTIER_ATLAS_PORT", "PORT"),
        description="TCP port `frontier-atlas serve` listens on.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        validation_alias=AliasChoices("workers", "FRONTIER_ATLAS_WORKERS", "WORKERS"),
        description="Number of server worker processes.",
    )
    title: str = Field("Frontier Atlas", description="Service title on the landing page.")
    max_radius_km: float = Field(
        1_000.0, gt=0, description="Largest `radius_km` accepted by `/places?near=`."
    )
    max_zone_width_km: float = Field(
        100.0, gt=0, description="Largest `width_km` accepted by `/borders/{id}/zone`."
    )
    cache_max_age: int = Field(
        3600, ge=0, description="`Cache-Control: max-age` (seconds) on successful GETs."
    )
    compress_min_bytes: int = Field(
        1024, ge=0, description="Bodies at least this large are gzip/brotli-compressed."
    )
    response_memo_mb: int = Field(
        128, ge=0, description="Memory (MB) for finished GET responses kept whole and sent "
        "again without running the application; 0 turns the memo off.",
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["*"], description="Origins allowed by CORS (GET only)."
    )
    public_base_url: str | None = Field(
        None,
        description="The URL readers reach the service at (e.g. https://atlas.example.org/); "
        "every absolute link, script, og:image and oEmbed URL is built from it instead of the "
        "request's Host header. Unset: built from the request (for local use).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values accepted (JSON list); others get 400. Empty: any.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies (JSON list) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed: the client's address (rate limits, logs) and scheme "
        "come from them. Empty: forwarded headers are ignored.",
    )
    log_level: str = Field("info", description="Log level for the service and its server.")
    access_log: bool = Field(
        False,
        description="One log line per request (off by default, as in gunicorn: it costs "
        "about a fifth of the throughput of cached responses).",
    )
    map_default_tiles: str = Field(
        "none", description="Tiles under map pages without a `tiles` flag: none, osm, light, dark."
    )
    map_tiles_osm_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="URL template of the `tiles=osm` raster tiles.",
    )
    map_tiles_light_url: str = Field(
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        description="URL template of the `tiles=light` raster tiles.",
    )
    map_tiles_dark_url: str = Field(
        "https://{s}.basemaps.cartocdn.com/dark_all/{z}/{x}/{y}{r}.png",
        description="URL template of the `tiles=dark` raster tiles.",
    )
    map_attribution_prefix: str = Field(
        "Leaflet",
        description="Text before the attribution on map pages (Leaflet's default carries a flag; "
        "empty for none).",
    )
    map_render_concurrency: int = Field(
        2, ge=1, le=64, description="Map pages and images drawn at once per worker (cached "
        "answers never wait).",
    )
    map_render_queue: int = Field(
        16, ge=0, description="Renders that may wait for a turn; past that a request gets 503 "
        "with Retry-After.",
    )
    map_cache_entries: int = Field(
        256, ge=1, description="Rendered map pages and PNGs kept in memory."
    )
    # --- studio (issue 11): saved maps
    state_dir: Path | None = Field(
        None,
        description="Writable directory of saved maps (`maps.sqlite`, created on first use); "
        "default `state/` next to the data directory.",
    )
    maps_database_url: str | None = Field(
        None,
        description="PostgreSQL URL for saved maps; default `database_url` (when neither is "
        "set, saved maps live in the SQLite file in `state_dir`).",
    )
    studio_creates_per_hour: int = Field(
        60, ge=0, description="Maps one client address may create per hour (0: no limit; "
        "requests with an API key are not limited).",
    )
    studio_previews_per_hour: int = Field(
        1200, ge=0, description="Studio previews (POST /api/maps/preview) one client address "
        "may render per hour (0: no limit).",
    )
    studio_max_body_kb: int = Field(
        64, ge=1, le=10_240, description="Largest request body of the maps API (KB); 413 above."
    )
    # --- end studio

    # Groups are built when asked for (a microsecond), never stored: a copy made with
    # ``model_copy(update=...)`` must not carry the original's groups.
    @property
    def server(self) -> ServerSettings:
        """What `frontier-atlas serve` binds and logs."""
        return ServerSettings(self.host, self.port, self.workers, self.log_level,
                              self.access_log)

    @property
    def store(self) -> StoreSettings:
        """Which backend the data comes from, and where."""
        return StoreSettings(self.data_dir, self.store_path, self.store_mmap_mb << 20,
                             self.database_url, self.database_pool)

    @property
    def http(self) -> HttpSettings:
        """The HTTP layer's settings."""
        return HttpSettings(self.title, self.cache_max_age, self.compress_min_bytes,
                            self.response_memo_mb << 20, tuple(self.cors_origins),
                            self.public_base_url, tuple(self.allowed_hosts),
                            tuple(self.trusted_proxies))

    @property
    def limits(self) -> QueryLimits:
        """Bounds on query parameters."""
        return QueryLimits(self.max_radius_km, self.max_zone_width_km)

    @property
    def maps(self) -> MapSettings:
        """Map pages' and images' settings."""
        return MapSettings(self.map_default_tiles,
                           (("osm", self.map_tiles_osm_url), ("light", self.map_tiles_light_url),
                            ("dark", self.map_tiles_dark_url)),
                           self.map_attribution_prefix, self.data_dir / "context.geojson",
                           self.map_render_concurrency, self.map_render_queue,
                           self.map_cache_entries)

    @property
    def studio(self) -> StudioSettings:
        """Saved maps' settings."""
        return StudioSettings(self.state_path, self.maps_database_url or self.database_url,
                              self.database_pool, self.studio_creates_per_hour,
                              self.studio_previews_per_hour, self.studio_max_body_kb * 1024)

    @property
    def store_path(self) -> Path:
        """Where the embedded store file lives."""
        return self.store_file or self.data_dir / "build" / "atlas.sqlite"

    @property
    def state_path(self) -> Path:
        """The writable directory of saved maps (studio)."""
        return self.state_dir or self.data_dir.parent / "state"

    @field_validator("data_dir")
    @classmethod
    def _data_dir_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"data directory {value} does not exist")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("public_base_url must be an absolute http(s) URL without a query")
        return value if value.endswith("/") else value + "/"

    @field_validator("map_default_tiles")
    @classmethod
    def _known_tiles(cls, value: str) -> str:
        if value not in ("none", "osm", "light", "dark"):
            raise ValueError("map_default_tiles must be none, osm, light or dark")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"critical", "error", "warning", "info", "debug", "trace"}:
            raise ValueError("log_level must be one of critical, error, warning, info, debug")
        return value
