"""Concept explorer at the paper's scale: build a synthetic site and time it in headless Chromium.

Synthetic tables (no training): m concepts x 3 models, a 14x14 token grid, the union of 4 top images per
model per concept drawn from ``--images`` generated pictures, sparse heatmaps, random decoder atoms for
the nearest concepts, 6 top concepts per model for each shown image (the image view). Prints the build
time, the site's size, the index's load time (navigation start to the table drawn, as the page measures
it, and wall time through the driver) over fresh browsers at 1,400 x 900 px, whether the page scrolls
horizontally there, and the time to open concept panels (a lazily loaded chunk each). With
``--heatmap-images N`` it also
times the heatmap pass of a real build (a random USAE with the paper's widths encoding N images of
random float16 stores per model) and extrapolates it to ``--images``.

Usage: python benchmarks/explorer.py [--concepts 6144] [--images 5000] [--runs 3] [--keep DIR]
                                     [--heatmap-images 200]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore, write_store
from usae.analysis.universality import cofire_proportion, firing_entropy
from usae.explorer.browser import browser_missing, chromium, console_errors, open_concept, open_index
from usae.explorer.content import (
    DEAD,
    ExplorerContent,
    ImageConcepts,
    concept_kinds,
    gallery_heatmaps,
    gallery_images,
    nearest_concepts,
)
from usae.explorer.site import site_size, write_site
from usae.sae.modules import UniversalSAE
from usae.stages.metrics import concept_frame

NAMES = ["siglip_vitb16", "dinov2_vits14", "vit_b16"]
DIMS = [768, 384, 768]
GRID = (14, 14)
PER_MODEL = 4
IMAGE_CONCEPTS = 6


def synthetic_images(folder, count, rng, px=224):
    """``count`` PNG pictures (colour gradients with noise); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 1, px)[None, :, None]
    paths = []
    for i in range(count):
        low, high = rng.uniform(0, 255, (2, 1, 1, 3))
        pixels = low + (high - low) * ramp + rng.normal(0, 12, (px, px, 3))
        paths.append(folder / f"{i:06d}.png")
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(paths[-1])
    return paths


def synthetic_frame(rng, m):
    """``concepts.csv`` of m concepts: about 10% dead, firing patterns from model-specific to universal."""
    weights = rng.dirichlet(np.full(len(NAMES), 0.4), m).T
    fires = rng.poisson(weights * rng.lognormal(5, 1.5, m)).astype(float) * (rng.random(m) > 0.1)
    cofires = np.floor(fires.min(0) * rng.uniform(0, 0.5, m))
    energy = rng.lognormal(-4, 1, (len(NAMES), m)) * (fires > 0)
    table = {
        "fires": fires,
        "cofires": cofires,
        "entropy": firing_entropy(fires),
        "cofire_proportion": cofire_proportion(cofires, fires),
        "energy": energy,
        "energy_total": energy.sum(0),
        "dead": fires.sum(0) == 0,
    }
    return concept_frame(table, NAMES)


def synthetic_content(rng, m, image_paths):
    """An :class:`usae.explorer.content.ExplorerContent` of synthetic tables over ``image_paths``."""
    frame = synthetic_frame(rng, m)
    kinds = concept_kinds(frame, NAMES, 0.9, 0.9, 1)
    alive = kinds != DEAD
    indices = rng.integers(len(image_paths), size=(len(NAMES), 8, m))
    values = np.sort(rng.random((len(NAMES), 8, m)), axis=1)[:, ::-1]
    gallery, top = gallery_images(indices, values, PER_MODEL, alive)
    heat = rng.integers(0, 256, (m, len(NAMES), gallery.shape[1], GRID[0] * GRID[1]), dtype=np.uint8)
    heat[rng.random(heat.shape) < 0.8] = 0  # top-k codes: a concept is off on most tokens
    heat *= (gallery >= 0)[:, None, :, None].astype(np.uint8)
    neighbours, cosines = nearest_concepts([rng.normal(size=(m, dim)).astype(np.float32) for dim in DIMS], alive, 8)
    images = np.unique(gallery[gallery >= 0])
    shape = (len(images), len(NAMES), IMAGE_CONCEPTS)
    image_heat = rng.integers(0, 256, shape + (GRID[0] * GRID[1],), dtype=np.uint8)
    image_heat[rng.random(image_heat.shape) < 0.8] = 0
    shown = ImageConcepts(
        images, rng.choice(np.flatnonzero(alive), shape), image_heat, rng.uniform(0.5, 5, shape).astype(np.float32)
    )
    labels = [f"class {i % 1000}" for i in range(len(image_paths))]
    r2 = (0.4 + 0.3 * np.eye(len(NAMES))).tolist()
    return ExplorerContent(
        names=NAMES,
        grid=GRID,
        frame=frame,
        kinds=kinds,
        gallery=gallery,
        top=top,
        heat_bytes=heat,
        heat_scale=rng.uniform(0.5, 5, (m, len(NAMES))).astype(np.float32) * alive[:, None],
        neighbours=neighbours,
        cosines=cosines,
        image_paths=image_paths,
        image_labels=labels,
        matrices={"dataset": "synthetic", "models": NAMES, "images": len(image_paths), "r2": r2},
        summary={"concepts": m, "dead_share": float((~alive).mean())},
        shown=shown,
    )


def time_heatmaps(rng, m, n_images, folder):
    """Seconds of :func:`usae.explorer.content.gallery_heatmaps` over ``n_images`` distinct images."""
    for name, dim in zip(NAMES, DIMS):
        acts = rng.normal(size=(n_images, GRID[0] * GRID[1], dim)).astype(np.float16)
        write_store(folder / name, acts, [f"{i:06d}" for i in range(n_images)], name, grid=GRID)
    batches = TokenBatches({name: ActivationStore(folder / name) for name in NAMES}, batch_images=1)
    usae = UniversalSAE(dict(zip(NAMES, DIMS)), m, 32).eval()
    gallery = rng.integers(n_images, size=(m, len(NAMES) * PER_MODEL))
    start = time.perf_counter()
    gallery_heatmaps(usae.encode, NAMES, batches, gallery, batch_images=16, image_concepts=IMAGE_CONCEPTS)
    return time.perf_counter() - start


def time_in_browser(site, runs, concepts):
    """Index load times over ``runs`` fresh browsers, page and viewport widths, panel open times; console errors."""
    loads, widths, panels, errors = [], [], [], []
    for _ in range(runs):
        with chromium(1400, 900) as driver:
            loads.append(open_index(driver, site))
            widths.append(
                driver.execute_script(
                    "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                )
            )
            for concept in concepts:
                start = time.perf_counter()
                open_concept(driver, concept)
                panels.append(time.perf_counter() - start)
            errors += console_errors(driver)
    return loads, widths, panels, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concepts", type=int, default=6144)
    parser.add_argument("--images", type=int, default=5000, help="distinct images (the paper's val: 5000)")
    parser.add_argument("--thumbnail-px", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="write the site here instead of a temporary folder")
    parser.add_argument("--heatmap-images", type=int, default=0, help="time the heatmap pass on this many images")
    args = parser.parse_args()
    missing = browser_missing()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        content = synthetic_content(rng, args.concepts, synthetic_images(Path(tmp) / "images", args.images, rng))
        print(f"synthetic tables and images        {time.perf_counter() - start:8.1f} s")
        site = Path(args.keep or Path(tmp) / "site")
        start = time.perf_counter()
        write_site(content, site, thumbnail_px=args.thumbnail_px)
        print(f"write_site                         {time.perf_counter() - start:8.1f} s")
        size = site_size(site)
        print(f"site size                          {size['bytes'] / 2**20:8.1f} MiB in {size['files']} files")
        for part, size_bytes in sorted(size["parts"].items()):
            print(f"  {part:32s} {size_bytes / 2**20:8.1f} MiB")
        print(f"  data/index.js                    {(site / 'data' / 'index.js').stat().st_size / 2**20:8.2f} MiB")
        if args.heatmap_images:
            seconds = time_heatmaps(rng, args.concepts, args.heatmap_images, Path(tmp) / "stores")
            print(
                f"heatmaps, {args.heatmap_images} images x {len(NAMES)} models   {seconds:8.1f} s "
                f"(x {args.images / args.heatmap_images:.0f} for {args.images} images: "
                f"{seconds * args.images / args.heatmap_images:.0f} s)"
            )
        if missing:
            print(f"browser timings skipped: {missing}")
            return
        alive = np.flatnonzero(content.kinds != DEAD)
        loads, widths, panels, errors = time_in_browser(site, args.runs, rng.choice(alive, 3, replace=False).tolist())
        page = [load["page"] for load in loads]
        wall = [load["wall"] for load in loads]
        print(
            f"index load, page-measured          {statistics.median(page):8.3f} s median (max {max(page):.3f}) "
            f"over {args.runs} fresh browsers"
        )
        print(f"index load, wall through driver    {statistics.median(wall):8.3f} s median (max {max(wall):.3f})")
        print(
            f"horizontal scroll at 1400 px       {'yes' if any(w[0] > w[1] for w in widths) else 'no':>8s} "
            f"(page {max(w[0] for w in widths)} px wide, viewport {widths[0][1]} px)"
        )
        print(f"concept panel open (lazy chunk)    {statistics.median(panels):8.3f} s median (max {max(panels):.3f})")
        print(f"console errors                     {len(errors):8d}")


if __name__ == "__main__":
    main()
