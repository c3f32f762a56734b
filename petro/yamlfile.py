"""One reader for petro's YAML files (pipelines, model specs, well manifests).

Each of them is a mapping at the top; a file that is missing, not YAML or not a mapping is a
:class:`petro.errors.ConfigError` naming the file and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from petro.errors import ConfigError


def read_mapping(path: Path, what: str, expected: str) -> dict:
    """The mapping ``path`` holds (``{}`` for an empty file).

    ``what`` names the file's kind ("pipeline file"); ``expected`` says in words what it should
    hold ("a pipeline is a mapping of sections"), for the error raised when it holds something
    else.

    >>> read_mapping(Path("no-such-file.yaml"), "pipeline file", "a mapping")
    Traceback (most recent call last):
    petro.errors.ConfigError: pipeline file no-such-file.yaml not found
    """
    if not path.is_file():
        raise ConfigError(f"{what} {path} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {expected}")
    return raw
