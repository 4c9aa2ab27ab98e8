"""README screenshot of the concept explorer, taken by headless Chromium (not drawn by hand).

Opens ``SITE_DIR/index.html`` from disk, opens a concept's panel (default: the highest-energy universal
concept) and saves the viewport as a PNG.

Usage: python benchmarks/explorer_screenshot.py SITE_DIR PNG [--concept K] [--width 1400] [--height 900]
"""

import argparse

from usae.explorer.browser import browser_missing, screenshot_site


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site_dir")
    parser.add_argument("png")
    parser.add_argument("--concept", type=int)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    missing = browser_missing()
    if missing:
        parser.exit(1, f"explorer_screenshot: {missing}\n")
    print(screenshot_site(args.site_dir, args.png, args.concept, args.width, args.height))


if __name__ == "__main__":
    main()
