"""Which model a call uses when none is named: the argument, ``$FAKEREVIEW_MODEL``, the installed reference.

Resolution order (the first that is set wins):

1. the ``model=`` argument (or ``--model`` at the CLI): a model directory or a Hub id;
2. the environment variable ``FAKEREVIEW_MODEL``;
3. the reference model shipped as its own small distribution, ``fakereview-reference-model``
   (``models/reference/`` in the repository, installed by the README's set-up command), whose
   package ``fakereview_reference_model`` exposes ``get_model_path()``;
4. otherwise a :class:`FileNotFoundError` that says how to get one.

There is no fall-back to a Hub id: the project publishes none, and a silent download attempt
would only turn a clear message into a network error.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from collections.abc import Iterator
from pathlib import Path

#: Environment variable naming the model (local directory or Hub id) for ``classify`` and the CLI.
MODEL_ENV_VAR = "FAKEREVIEW_MODEL"
#: The importable package of the reference-model distribution.
REFERENCE_PACKAGE = "fakereview_reference_model"
#: Its distribution name, for messages (``pip install ...``).
REFERENCE_DISTRIBUTION = "fakereview-reference-model"


def default_model_path() -> Path:
    """The model directory used when no model is named: ``$FAKEREVIEW_MODEL`` or the installed reference.

    Returns:
        `pathlib.Path`: the directory (for a Hub id in ``$FAKEREVIEW_MODEL``, the id as a path;
        :func:`resolve_model` passes it on unchanged).

    Raises:
        `FileNotFoundError`: neither is available; the message says how to install the reference model.

    Example::

        >>> from fakereview_nlp import default_model_path
        >>> default_model_path().name  # doctest: +SKIP
        'model'
    """
    return Path(resolve_model(None))


#: How a model named by the caller is described in errors: ``the model= argument`` in Python; the
#: command line sets ``--model`` (see :func:`model_given_as`).
_GIVEN_AS: contextvars.ContextVar[str] = contextvars.ContextVar("model_given_as", default="the model= argument")
#: Where each resolved model name came from (both its spelling and its absolute path), for errors.
_ORIGINS: dict[str, str] = {}


@contextlib.contextmanager
def model_given_as(label: str) -> Iterator[None]:
    """Within the block, a model named by the caller is described as ``label`` (``--model`` at the CLI)."""
    token = _GIVEN_AS.set(label)
    try:
        yield
    finally:
        _GIVEN_AS.reset(token)


def _remember(name: str, origin: str) -> str:
    _ORIGINS[name] = origin
    _ORIGINS[os.path.abspath(os.path.expanduser(name))] = origin
    return name


def model_origin(path: str | os.PathLike[str]) -> str:
    """`` (from ORIGIN)`` for a model name :func:`resolve_model` returned, else ``""``: for error messages."""
    text = os.fspath(path)
    origin = _ORIGINS.get(text) or _ORIGINS.get(os.path.abspath(os.path.expanduser(text)))
    return f" (from {origin})" if origin else ""


def resolve_model(model: str | os.PathLike[str] | None) -> str:
    """``model`` if given, else ``$FAKEREVIEW_MODEL``, else the installed reference model's folder.

    Where the name came from is remembered for error messages (:func:`model_origin`).
    """
    if model is not None:
        text = os.fspath(model)
        if not text:
            raise ValueError("model is an empty string; pass a model directory, or None for the default model")
        return _remember(text, _GIVEN_AS.get())
    from_env = os.environ.get(MODEL_ENV_VAR, "").strip()
    if from_env:
        return _remember(from_env, f"${MODEL_ENV_VAR}")
    return _remember(str(reference_model_path()), f"the installed default model, {REFERENCE_DISTRIBUTION}")


def resolve_model_location(model: str | os.PathLike[str] | None) -> str:
    """:func:`resolve_model`, with a local folder as its absolute path (a Hub id is left as it is).

    One name per folder however it is spelled (``./run``, ``run/``, ``~/x/run``): the key of the
    classifier cache and what a job's resume identity records.
    """
    name = resolve_model(model)
    path = Path(name).expanduser()
    return _remember(str(path.resolve()), _ORIGINS[name]) if path.is_dir() else name


def reference_model_path() -> Path:
    """The folder of the installed reference model, or a :class:`FileNotFoundError` saying how to install it."""
    try:
        module = importlib.import_module(REFERENCE_PACKAGE)
    except ImportError as err:
        raise FileNotFoundError(
            f"no model named and no default model installed: pass model='path/to/model_dir' (--model at the "
            f"CLI), set {MODEL_ENV_VAR}=/path/to/model_dir, or install the reference model "
            f"({REFERENCE_DISTRIBUTION}): from a checkout, python3 -m pip install -e models/reference"
        ) from err
    folder = Path(module.get_model_path())
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"the installed {REFERENCE_DISTRIBUTION} points at {str(folder)!r}, which holds no config.json; "
            f"reinstall it (python3 -m pip install --force-reinstall -e models/reference) or set {MODEL_ENV_VAR}"
        )
    return folder


__all__ = [
    "MODEL_ENV_VAR",
    "REFERENCE_DISTRIBUTION",
    "default_model_path",
    "model_given_as",
    "model_origin",
    "reference_model_path",
    "resolve_model",
    "resolve_model_location",
]
