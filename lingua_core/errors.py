"""Error types that callers (CLI, language server) can tell apart and explain to a user.

Every failure the user can fix (bad input, a model that is not there) raises a subclass of
``LinguaError`` whose message says what went wrong and how to fix it, so front ends can show
it as is and never need a traceback.
"""

from __future__ import annotations


class LinguaError(Exception):
    """Base class: a failure with a message meant for the user."""


class InputError(LinguaError, ValueError):
    """The text or the options asked of the compressor cannot be used."""


class ModelError(LinguaError):
    """A model spec cannot be resolved or loaded."""


class DeviceError(ModelError):
    """The device asked for (``cuda``, ``mps``) is not on this machine: the model is fine."""


class AssetError(LinguaError):
    """A local asset (tokenizer rank file, embedded model) is missing or corrupt."""
