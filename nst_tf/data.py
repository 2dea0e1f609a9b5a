"""The course's files: images, weights and models, found locally or downloaded, always hash-checked.

Taught in notebooks/00_welcome_and_setup.

Every file is listed in ``data/images.json`` or ``data/models.json`` with its public origin URL
and sha256. Lookup order:

1. the folder named by ``NST_ASSETS_DIR`` (laid out as ``images/content``, ``images/style``,
   ``weights``, ``tflite``), the way offline machines and CI provide files;
2. the Keras cache (``$KERAS_HOME``, default ``~/.keras``, sub-folder ``nst_course/<kind>``);
3. a download with ``keras.utils.get_file`` into that cache, checked against the sha256.

A file whose hash does not match is an error, never silently used.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path



def _data_dir() -> Path:
    """``data/`` of the checkout, or its copy that an installed wheel carries as ``nst_tf.manifests``."""
    checkout = Path(__file__).resolve().parents[1] / "data"
    if (checkout / "images.json").is_file():
        return checkout
    from importlib.resources import files

    return Path(str(files("nst_tf.manifests")))


DATA_DIR = _data_dir()
_SUBDIRS = {"content": "images/content", "style": "images/style", "weights": "weights", "tflite": "tflite"}


class AssetError(ValueError):
    """A course file that is unknown, missing, or not the file it should be."""


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # "content", "style", "weights" or "tflite"
    filename: str
    url: str
    sha256: str
    license: str
    credit: str

    @property
    def subdir(self) -> str:
        return _SUBDIRS[self.kind]


@lru_cache(maxsize=None)
def _manifest() -> dict[str, Asset]:
    assets: dict[str, Asset] = {}
    for entry in json.loads((DATA_DIR / "images.json").read_text(encoding="utf-8")):
        assets[entry["name"]] = Asset(entry["name"], entry["role"], entry["filename"], entry["url"],
                                      entry["sha256"], entry["license"], entry["credit"])
    for entry in json.loads((DATA_DIR / "models.json").read_text(encoding="utf-8")):
        assets[entry["name"]] = Asset(entry["name"], entry["kind"], entry["filename"], entry["url"],
                                      entry["sha256"], entry["license"], entry["credit"])
    return assets


def list_assets(kind: str | None = None) -> list[Asset]:
    """All course files, or those of one kind ("content", "style", "weights", "tflite")."""
    return [a for a in _manifest().values() if kind is None or a.kind == kind]


def course_images(role: str | None = None) -> list[str]:
    """Names of the course images, optionally only the "content" or the "style" ones."""
    if role not in (None, "content", "style"):
        raise ValueError(f"role must be 'content', 'style' or None, got {role!r}")
    kinds = ("content", "style") if role is None else (role,)
    return [a.name for a in _manifest().values() if a.kind in kinds]


def _close_names(text: str, names: list[str]) -> list[str]:
    """Names that contain ``text`` (4+ characters), else the close spellings (difflib)."""
    key = text.strip().lower()
    return ([n for n in names if len(key) >= 4 and key in n.lower()]
            or difflib.get_close_matches(key, names, n=3, cutoff=0.6))[:3]


def course_image_hint(text: str) -> str:
    """The end of a "no such file" message for ``text``: the course images it may have meant
    and where they are listed; "" when ``text`` is a path with folders or matches nothing and
    has a file extension (a plain missing file)."""
    if "/" in text or os.sep in text:
        return ""
    stem = text.rsplit(".", 1)[0] if "." in text else text
    close = _close_names(stem, course_images())
    if close:
        return (f", nor a course image name: did you mean {' or '.join(map(repr, close))}? "
                f"(python -m nst_tf images lists them)")
    return "" if "." in text else ", nor a course image name (python -m nst_tf images lists them)"


def get_asset(name: str) -> Asset:
    try:
        return _manifest()[name]
    except KeyError:
        close = _close_names(str(name), list(_manifest()))
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise AssetError(f"unknown course file {name!r}; {hint}course images: course_images() or "
                         f"python -m nst_tf images; all files: {', '.join(sorted(_manifest()))}") from None


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, asset: Asset, where: str) -> Path:
    actual = sha256_of(path)
    if actual != asset.sha256:
        raise AssetError(
            f"{path}: sha256 {actual[:12]}... does not match the expected {asset.sha256[:12]}... "
            f"for {asset.name!r} ({where}); delete or replace the file")
    return path


def keras_home() -> Path:
    """The Keras cache root, resolved the way Keras itself does (``$KERAS_HOME`` or ``~/.keras``)."""
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"])
    base = os.path.expanduser("~")
    return Path(base if os.access(base, os.W_OK) else "/tmp") / ".keras"


def keras_cache_dir(asset: Asset) -> Path:
    return keras_home() / "nst_course" / asset.subdir


def download_failure(err: Exception) -> str:
    """The useful part of a ``get_file`` failure ("URL fetch failure on ...: None -- why")."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.split(" -- ")[-1]


def offline() -> bool:
    """True when ``NST_OFFLINE`` forbids downloads (CI, air-gapped machines)."""
    return os.environ.get("NST_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def local_asset(name: str) -> Path | None:
    """The hash-checked local copy of a course file (NST_ASSETS_DIR, then the Keras cache), or None."""
    asset = get_asset(name)
    assets_dir = os.environ.get("NST_ASSETS_DIR", "").strip()
    if assets_dir:
        candidate = Path(assets_dir).expanduser() / asset.subdir / asset.filename
        if candidate.is_file():
            return _checked(candidate, asset, "NST_ASSETS_DIR")
    cached = keras_cache_dir(asset) / asset.filename
    return _checked(cached, asset, "Keras cache") if cached.is_file() else None


def asset_path(name: str) -> Path:
    """Local path of a course file (image, weights, model), downloading it when needed."""
    local = local_asset(name)
    if local is not None:
        return local
    asset = get_asset(name)
    cache_dir = keras_cache_dir(asset)
    cached = cache_dir / asset.filename
    how_to = (f"download {asset.url} and put it at "
              f"$NST_ASSETS_DIR/{asset.subdir}/{asset.filename} or {cached}")
    if offline():
        raise AssetError(f"{asset.name!r} is not available offline (NST_OFFLINE is set): {how_to}")
    import keras

    try:
        # get_file falls back to /tmp when the cache folder does not exist yet: create it.
        cache_dir.mkdir(parents=True, exist_ok=True)
        downloaded = keras.utils.get_file(asset.filename, asset.url, file_hash=asset.sha256,
                                          hash_algorithm="sha256", cache_dir=str(keras_home()),
                                          cache_subdir=str(cache_dir.relative_to(keras_home())))
    except Exception as err:  # get_file raises bare Exceptions for network failures
        raise AssetError(f"{asset.name!r} could not be downloaded ({download_failure(err)}); "
                         f"{how_to}") from None
    return _checked(Path(downloaded), asset, "download")


def course_image(name: str) -> Path:
    """Local path of a course image by name, e.g. ``course_image("tubingen_neckarfront")``."""
    asset = get_asset(name)
    if asset.kind not in ("content", "style"):
        raise AssetError(f"{name!r} is a {asset.kind} file, not a course image")
    return asset_path(name)
