"""The natural photographs shipped inside the scikit-image and scikit-learn wheels (work offline)."""

from pathlib import Path

# scikit-image / scikit-learn sample photographs of natural scenes (RGB, shipped in the wheels).
EMBEDDED_PHOTOS = (
    ("skimage", "astronaut"),
    ("skimage", "chelsea"),
    ("skimage", "coffee"),
    ("skimage", "rocket"),
    ("skimage", "hubble_deep_field"),
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
)


def embedded_photos():
    """Return the embedded source photographs as ``{name: uint8 array (H, W, 3)}``."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    sklearn_images = load_sample_images()
    sklearn_by_name = {Path(f).name: im for f, im in zip(sklearn_images.filenames, sklearn_images.images)}
    photos = {}
    for package, name in EMBEDDED_PHOTOS:
        photos[name] = getattr(skimage.data, name)() if package == "skimage" else sklearn_by_name[name]
    return photos
