"""The one error family (bot/errors.py): every public exception of bot/ and commands/ is a kind of
:class:`CcciError`, each the kind its callers act on, and the builtin bases code catches are kept."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bot
import commands
from bot.answers.suggest import UnknownNameError
from bot.artifacts.served import ArtifactError, ArtifactMissing, ArtifactRefused
from bot.config import ConfigError
from bot.config.values import Invalid
from bot.errors import BadInput, CcciError, Failure, Transient
from bot.kb import SignatureError
from bot.matrix.crosssign import CrossSignError, CrossSignUnavailable
from bot.matrix.errors import MatrixError, Unavailable
from bot.memory.acts import Refused
from bot.model.reruns import RerunError
from bot.probes.http import NoAnswer
from bot.reruns.preflight import NodeUnreachable
from bot.schedule import CronError
from bot.store.backup import BackupError
from bot.store.errors import StoreError
from commands.args import UsageError

# Control flow inside one module, not errors a caller reports (bot/errors.py says why, one by one).
OUTSIDE_THE_FAMILY = {
    "bot.web.logview.Cancelled",
    "bot.web.hooks.BodyTooLarge",
    "bot.artifacts.safeopen.Unsafe",
    "bot.artifacts.safeopen.TooLarge",
    "bot.artifacts.safeopen.UnsafeDir",
}

KINDS: dict[type[BaseException], type[CcciError]] = {
    ConfigError: BadInput,
    Invalid: BadInput,
    UsageError: BadInput,
    UnknownNameError: BadInput,
    RerunError: BadInput,
    SignatureError: BadInput,
    CronError: BadInput,
    Refused: BadInput,
    Unavailable: Transient,
    CrossSignUnavailable: Transient,
    NodeUnreachable: Transient,
    NoAnswer: Transient,
    StoreError: Failure,
    BackupError: Failure,
    MatrixError: Failure,
    CrossSignError: Failure,
    ArtifactError: Failure,
    ArtifactMissing: Failure,
    ArtifactRefused: Failure,
}

# The builtin bases existing ``except`` clauses rely on.
BUILTIN_BASES: dict[type[BaseException], type[BaseException]] = {
    ConfigError: ValueError,
    Invalid: ValueError,
    UsageError: ValueError,
    RerunError: ValueError,  # the report loop catches it as ValueError
    SignatureError: ValueError,
    CronError: ValueError,
    UnknownNameError: LookupError,
}


def public_exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class defined in a module of bot/ or commands/ (each module imported)."""
    found: dict[str, type[BaseException]] = {}
    for package in (bot, commands):
        names = [package.__name__]
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
        for name in names:
            module = importlib.import_module(name)
            for attr, value in vars(module).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == name
                    and not attr.startswith("_")
                ):
                    found[f"{name}.{attr}"] = value
    return found


def test_every_public_exception_is_in_the_family() -> None:
    found = public_exceptions()
    assert set(OUTSIDE_THE_FAMILY) <= set(found), "an exemption names no class: drop it"
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, CcciError))
    assert outside == sorted(OUTSIDE_THE_FAMILY)
    assert len(found) - len(OUTSIDE_THE_FAMILY) >= len(KINDS)  # the walk found them all, not a few


def test_the_walk_finds_what_it_should() -> None:
    """The walk itself: it sees classes in sub-packages and in package __init__ modules."""
    found = public_exceptions()
    assert found["bot.kb.SignatureError"] is SignatureError
    assert found["bot.store.errors.StoreError"] is StoreError
    assert found["commands.args.UsageError"] is UsageError
    assert "bot.errors.CcciError" in found


@pytest.mark.parametrize("cls", list(KINDS), ids=lambda c: c.__name__)
def test_each_is_the_kind_its_callers_act_on(cls: type[BaseException]) -> None:
    kind = KINDS[cls]
    assert issubclass(cls, kind)
    others = {BadInput, Transient, Failure} - {kind}
    assert not any(issubclass(cls, other) for other in others)


@pytest.mark.parametrize("cls", list(BUILTIN_BASES), ids=lambda c: c.__name__)
def test_the_builtin_bases_are_kept(cls: type[BaseException]) -> None:
    """An ``except ValueError`` that caught it before still does."""
    assert issubclass(cls, BUILTIN_BASES[cls])
    with pytest.raises(BUILTIN_BASES[cls]):
        raise cls("x") if cls is not UnknownNameError else UnknownNameError("recipe", "x", [])


def test_only_usage_errors_ask_for_the_usage_line() -> None:
    shown = {cls for cls in KINDS if issubclass(cls, BadInput) and cls.show_usage}
    assert shown == {UsageError}
