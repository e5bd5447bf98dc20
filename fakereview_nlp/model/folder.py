"""The model folder: one object that reads everything a trained model directory holds.

A folder written by ``python -m training.train`` (or a Hub repo with the same files) holds::

    config.json, model.safetensors, tokenizer files   the transformer (labels in config.json)
    calibration.json        temperature (optional; 1.0 without it)
    operating_points.json   flag threshold(s) (optional; 0.5 without it)
    tfidf_model.json        the TF-IDF part served beside the transformer (optional)
    training_config.yaml    the resolved training config (optional)
    model_info.json         ``{"languages": [...], "version": "..."}`` (optional)

:class:`ModelFolder` reads them once, so that inference, the batch jobs, ``fakereview
evaluate``, the model card and the runtimes all see the same temperature and threshold: no
other module opens these side files.

Example::

    >>> folder = ModelFolder.from_pretrained("runs/reference")  # doctest: +SKIP
    >>> folder.threshold, folder.temperature  # doctest: +SKIP
    (0.73, 1.41)
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakereview_nlp.files import read_json
from fakereview_nlp.language import DEFAULT_MODEL_LANGUAGES
from fakereview_nlp.model.baseline import TFIDF_FILE, TfidfBaseline
from fakereview_nlp.model.calibration import load_calibration
from fakereview_nlp.model.default_model import MODEL_ENV_VAR
from fakereview_nlp.model.modeling import check_model_dir
from fakereview_nlp.model.operating_points import load_operating_points

WEIGHTS_FILE = "model.safetensors"
TRAINING_CONFIG_FILE = "training_config.yaml"
MODEL_INFO_FILE = "model_info.json"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json", "spiece.model")
#: Files whose change means the directory now holds another model (a retrain into the same
#: output.dir rewrites them); ``*.safetensors`` covers sharded weights too.
MODEL_FILES = (
    "config.json", "calibration.json", "operating_points.json", TFIDF_FILE, MODEL_INFO_FILE, *TOKENIZER_FILES,
)  # fmt: skip
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.yaml"]


@dataclass(frozen=True)
class ModelFolder:
    """Everything a model directory holds besides the transformer itself, read once.

    Attributes:
        path (`Path`): the local folder (a Hub id is downloaded first).
        source (`str`): the path or Hub id as given, for messages.
        labels (`dict[int, str]`): ``id2label`` of ``config.json``.
        temperature (`float`): from ``calibration.json``; 1.0 without one.
        threshold (`float`): the flag threshold of ``operating_points.json``; 0.5 without one.
        calibration (`dict`, *optional*): ``calibration.json`` as saved.
        operating_points (`dict`, *optional*): ``operating_points.json`` as saved.
        tfidf (`TfidfBaseline`, *optional*): the TF-IDF part (``tfidf_model.json``).
        training_config (`dict`, *optional*): ``training_config.yaml``.
        languages (`tuple[str, ...]`, *optional*), version (`str`, *optional*): from ``model_info.json``
            (``None`` when it does not record them). Text in other languages is out of the model's
            scope; :attr:`scope_languages` is what inference uses (``("en",)`` when none are recorded).
        stamp (`tuple`): (file, mtime_ns, size) of every file that defines the model.
    """

    path: Path
    source: str
    labels: Mapping[int, str]
    temperature: float = 1.0
    threshold: float = 0.5
    calibration: Mapping[str, Any] | None = None
    operating_points: Mapping[str, Any] | None = None
    tfidf: TfidfBaseline | None = None
    training_config: Mapping[str, Any] | None = None
    languages: tuple[str, ...] | None = None
    version: str | None = None
    stamp: tuple[tuple[str, int | None, int | None], ...] = ()

    @property
    def weights(self) -> Path:
        """The safetensors weights file."""
        return self.path / WEIGHTS_FILE

    @property
    def scope_languages(self) -> tuple[str, ...]:
        """The languages the model reads: :attr:`languages` when ``model_info.json`` records them, else
        :data:`~fakereview_nlp.language.DEFAULT_MODEL_LANGUAGES` (``("en",)``; see :attr:`languages_recorded`)."""
        return self.languages if self.languages is not None else DEFAULT_MODEL_LANGUAGES

    @property
    def languages_recorded(self) -> bool:
        """Whether the folder records its languages (``model_info.json``), rather than having them assumed."""
        return self.languages is not None

    @property
    def has_threshold(self) -> bool:
        """Whether the folder saved an operating threshold (else :attr:`threshold` is the 0.5 default)."""
        return self.operating_points is not None

    def weights_sha256(self) -> str:
        """SHA-256 (hex) of the weights; cached by path, size and mtime, so read once per file version."""
        return weights_hash(self.path)

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, source: str | None = None) -> ModelFolder:
        """Read a local model directory; a missing or corrupt file is named in the error.

        Raises:
            `FileNotFoundError` / `ValueError`: see :func:`fakereview_nlp.model.modeling.check_model_dir`;
            also a threshold outside [0, 1].
        """
        folder = check_model_dir(path)
        check_tokenizer_files(folder)
        config = read_json(folder / "config.json", fix="re-save the model with save_pretrained") or {}
        labels = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
        calibration = load_calibration(folder)
        operating = load_operating_points(folder)
        threshold = 0.5 if operating is None else operating["threshold"]
        if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
            raise ValueError(
                f"{folder / 'operating_points.json'} has threshold {threshold!r}; expected a number in [0, 1]"
            )
        info = read_json(folder / MODEL_INFO_FILE, fix="delete it or write it again") or {}
        if not isinstance(info, dict):
            raise ValueError(f"{folder / MODEL_INFO_FILE} holds {type(info).__name__}; expected a JSON object")
        languages = info.get("languages")
        if languages is not None and (
            not isinstance(languages, list) or not all(isinstance(x, str) and x for x in languages)
        ):
            raise ValueError(
                f"{folder / MODEL_INFO_FILE} has languages {languages!r}; expected a list of ISO 639-1 codes "
                'such as ["en"]. Fix or delete the file'
            )
        version = info.get("version")
        return cls(
            path=folder,
            source=source if source is not None else str(path),
            labels=labels,
            temperature=float((calibration or {}).get("temperature", 1.0)),
            threshold=float(threshold),
            calibration=calibration,
            operating_points=operating,
            tfidf=TfidfBaseline.load(folder) if (folder / TFIDF_FILE).is_file() else None,
            training_config=_read_training_config(folder),
            languages=None if languages is None else tuple(str(x) for x in languages),
            version=None if version is None else str(version),
            stamp=files_stamp(folder) or (),
        )

    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | os.PathLike[str]) -> ModelFolder:
        """A local directory as given, or a Hub repo downloaded (from the cache when offline), then :meth:`read`."""
        return cls.read(fetch_model_dir(path_or_hub_id), source=os.fspath(path_or_hub_id))


def fetch_model_dir(path_or_hub_id: str | os.PathLike[str]) -> Path:
    """A local directory as given; a Hub id downloaded (or taken from the cache when offline)."""
    text = os.fspath(path_or_hub_id)
    path = Path(text).expanduser()
    is_hub_id = not path.exists() and text.count("/") <= 1 and not text.startswith((".", "/", "~", "\\"))
    if not is_hub_id:
        return path  # check_model_dir names what is missing
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(text, allow_patterns=_HUB_PATTERNS))
    except Exception as err:  # offline, unknown repo, auth: all end the same way for the user
        from fakereview_nlp.model.default_model import model_origin

        raise OSError(
            f"could not load model {text!r}{model_origin(text)}: it is not a local directory and fetching it from the Hugging Face "
            f"Hub failed ({type(err).__name__}: {err}). Pass the path of a trained model directory "
            f"(written by `python -m training.train configs/tiny_debug.yaml` or save_pretrained), "
            f"e.g. classify(texts, model='outputs/my_model'), or set {MODEL_ENV_VAR}=/path/to/model"
        ) from err


def check_tokenizer_files(folder: Path) -> None:
    """Raise ``FileNotFoundError`` naming what is missing when ``folder`` has no tokenizer."""
    if not (folder / "tokenizer_config.json").is_file() or not any(
        (folder / n).is_file() for n in TOKENIZER_FILES
    ):
        found = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(
            f"model directory {str(folder)!r} has no tokenizer (tokenizer_config.json plus one of "
            f"{list(TOKENIZER_FILES)}); it holds {found}. Save it with tokenizer.save_pretrained(model_dir)"
        )


def files_stamp(path: str | os.PathLike[str]) -> tuple[tuple[str, int | None, int | None], ...] | None:
    """(file, mtime_ns, size) of every file that defines the model in directory ``path``; None for a Hub id."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    stamp: list[tuple[str, int | None, int | None]] = []
    for file in [*sorted(folder.glob("*.safetensors")), *(folder / f for f in MODEL_FILES)]:
        try:
            stat = file.stat()
        except OSError:
            stamp.append((file.name, None, None))
        else:
            stamp.append((file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(stamp)


def weights_hash(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of ``model.safetensors``: the key of converted runtimes, so new weights mean a new conversion."""
    path = (Path(model_dir) / WEIGHTS_FILE).resolve()
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key: a rewritten file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_training_config(folder: Path) -> dict[str, Any] | None:
    """The resolved training config the training loop saves next to the weights, if any."""
    path = folder / TRAINING_CONFIG_FILE
    if not path.is_file():
        return None
    import yaml

    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else None


__all__ = [
    "MODEL_FILES",
    "MODEL_INFO_FILE",
    "TOKENIZER_FILES",
    "TRAINING_CONFIG_FILE",
    "WEIGHTS_FILE",
    "ModelFolder",
    "check_tokenizer_files",
    "fetch_model_dir",
    "files_stamp",
    "weights_hash",
]
