"""``frontier-atlas map``: write a self-contained map page (assets inlined) and/or a PNG."""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from service.domain.errors import AtlasError


def _run(args: argparse.Namespace) -> int:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_write(args))
    # Called from code that runs an event loop (a test, a notebook): use a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _write(args)).result()


async def _write(args: argparse.Namespace) -> int:
    from service.maps import content as maps
    from service.maps import png as static_map
    from service.maps.flags import parse_flags, parse_size
    from service.settings import Settings
    from service.store import open_store

    settings = Settings()
    store = await open_store(settings.store)
    frontier = store.frontier
    context = maps.ContextLayers.load(settings.maps.context_file)
    try:
        border_id = frontier.border_id(args.border)
        crossings = tuple(c.id for c in frontier.crossings_on(border_id))
        places = tuple([(await store.place(p)).id for p in args.place])
        codes = tuple(frontier.countries_of(border_id))
        spec = maps.MapSpec("custom", (border_id,), places, crossings, codes, border_id)
        flags = parse_flags(
            {"title": args.title, "caption": args.caption, "lang": args.lang, "dark": args.dark,
             "static": args.static, "inset": args.inset, "labels": args.labels, "tiles": "none"}
        )  # fmt: skip
        size = parse_size(args.width, args.height)
        content = maps.resolve(frontier, await maps.places_of(store, spec), spec, flags.lang,
                               context)  # fmt: skip
    except AtlasError as exc:
        raise SystemExit(f"frontier-atlas map: {exc.detail}") from None
    finally:
        await store.close()
    if flags.title is None:
        flags = parse_flags({"title": maps.border_name(frontier, border_id, flags.lang),
                             "caption": args.caption, "lang": flags.lang, "dark": flags.dark,
                             "static": args.static, "inset": args.inset,
                             "labels": args.labels})  # fmt: skip
    if args.out:
        urls = maps.PageUrls(page=Path(args.out).name, png=args.png and Path(args.png).name,
                             oembed=None, embed=None, static_base="")  # fmt: skip
        page = maps.render_page(frontier, content, flags, maps.MapOptions(attribution_prefix=""),
                                urls, inline_assets=True)  # fmt: skip
        Path(args.out).write_text(page, encoding="utf-8")
        print(f"wrote {args.out} ({len(page.encode()):,} bytes, self-contained)")
    if args.png:
        Path(args.png).write_bytes(static_map.render_png(content, flags, *size))
        print(f"wrote {args.png} ({size[0]}×{size[1]} px)")
    if not (args.out or args.png):
        raise SystemExit("frontier-atlas map: give --out FILE.html and/or --png FILE.png")
    return 0


def add_map_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``map`` on the CLI's subparsers."""
    cmd = sub.add_parser("map", help="write a self-contained map page (and/or PNG) of a border")
    cmd.add_argument("border", help="border id, e.g. RU-BY or BLR-UKR")
    cmd.add_argument("--place", action="append", default=[], help="place id (repeatable)")
    cmd.add_argument("--out", help="HTML file to write (assets inlined, works offline)")
    cmd.add_argument("--png", help="PNG file to write")
    cmd.add_argument("--width", type=int, help="PNG width in pixels (200-2400, default 1200)")
    cmd.add_argument("--height", type=int, help="PNG height in pixels (200-2400, default 630)")
    cmd.add_argument("--title", help="headline")
    cmd.add_argument("--caption", help="caption")
    cmd.add_argument("--lang", default="en", help="en, ru or be")
    cmd.add_argument("--dark", default="auto", help="auto, true or false")
    cmd.add_argument("--static", default="false", help="true: no pan or zoom")
    cmd.add_argument("--inset", default="true", help="overview inset (true/false)")
    cmd.add_argument("--labels", default="true", help="place labels (true/false)")
    cmd.set_defaults(func=_run)
