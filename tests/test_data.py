"""The course-file manifest and the lookup: NST_ASSETS_DIR, Keras cache, download, hash checks."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import need_asset
from nst_tf import data
from nst_tf.data import AssetError, asset_path, course_image, course_images, list_assets

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_entries_are_complete():
    entries = json.loads((ROOT / "data" / "images.json").read_text())
    assert {e["role"] for e in entries} == {"content", "style"}
    for e in entries:
        assert set(e) >= {"name", "role", "url", "sha256", "license", "credit", "filename"}
        assert re.fullmatch(r"[0-9a-f]{64}", e["sha256"]), e["name"]
        assert e["url"].startswith("https://"), e["name"]
        assert e["license"] and e["credit"]
    assert len({e["name"] for e in entries}) == len(entries)


def test_attribution_credits_every_image():
    text = (ROOT / "data" / "ATTRIBUTION.md").read_text()
    for asset in list_assets():
        assert asset.filename in text, f"ATTRIBUTION.md does not credit {asset.filename}"


def test_every_listed_file_is_found_and_hash_checked():
    for asset in list_assets():
        path = need_asset(asset.name)
        assert data.sha256_of(path) == asset.sha256


def test_course_image_and_names():
    assert "tubingen_neckarfront" in course_images("content")
    assert "vangogh_starry_night" in course_images("style")
    assert set(course_images()) == set(course_images("content")) | set(course_images("style"))
    need_asset("tubingen_neckarfront")
    assert course_image("tubingen_neckarfront").name == "tubingen_neckarfront.jpg"
    with pytest.raises(AssetError, match="unknown course file 'mona_lisa'"):
        course_image("mona_lisa")
    with pytest.raises(AssetError, match="not a course image"):
        course_image("squeezenet_v1_1_notop")
    with pytest.raises(ValueError):
        course_images("painting")


@pytest.fixture
def fake_asset(tmp_path, monkeypatch):
    """A manifest entry for a small file we make, served from a file:// URL (no network)."""
    source = tmp_path / "origin" / "tiny.png"
    source.parent.mkdir()
    source.write_bytes(b"\x89PNG fake bytes for hashing")
    entry = data.Asset("tiny", "style", "tiny.png", source.as_uri(),
                       hashlib.sha256(source.read_bytes()).hexdigest(), "CC0", "test")
    manifest = dict(data._manifest())
    manifest["tiny"] = entry
    monkeypatch.setattr(data, "_manifest", lambda: manifest)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("NST_ASSETS_DIR", raising=False)
    monkeypatch.delenv("NST_OFFLINE", raising=False)
    return entry, source


def test_assets_dir_first_and_wrong_hash_is_an_error(fake_asset, tmp_path, monkeypatch):
    entry, source = fake_asset
    assets = tmp_path / "assets"
    (assets / "images" / "style").mkdir(parents=True)
    shutil.copy(source, assets / "images" / "style" / "tiny.png")
    monkeypatch.setenv("NST_ASSETS_DIR", str(assets))
    assert asset_path("tiny") == assets / "images" / "style" / "tiny.png"
    (assets / "images" / "style" / "tiny.png").write_bytes(b"tampered")
    with pytest.raises(AssetError, match="does not match"):
        asset_path("tiny")


def test_download_into_keras_cache_then_reuse(fake_asset, tmp_path):
    entry, source = fake_asset
    path = asset_path("tiny")  # downloads through keras.utils.get_file from the file:// origin
    assert path == tmp_path / "keras" / "nst_course" / "images" / "style" / "tiny.png"
    source.unlink()            # the origin is gone: the cached copy must be used
    assert asset_path("tiny") == path
    path.write_bytes(b"corrupted in the cache")
    with pytest.raises(AssetError, match="Keras cache"):
        asset_path("tiny")


def test_download_with_wrong_hash_is_refused(fake_asset, monkeypatch):
    entry, source = fake_asset
    source.write_bytes(b"different bytes at the origin")
    with pytest.raises(AssetError, match="could not be downloaded"):
        asset_path("tiny")


def test_offline_and_missing_is_one_line_saying_what_to_do(fake_asset, monkeypatch):
    entry, source = fake_asset
    monkeypatch.setenv("NST_OFFLINE", "1")
    with pytest.raises(AssetError) as info:
        asset_path("tiny")
    message = str(info.value)
    assert "\n" not in message
    assert entry.url in message and "NST_ASSETS_DIR/images/style/tiny.png" in message
