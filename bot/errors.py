"""The bot's one error family: a root and the three kinds a caller acts on.

A caller (the CLI, the chat dispatcher, the loops) decides by kind, not by class:

* :class:`BadInput` — what was typed or configured is wrong: the CLI exits 2 (with the command's usage
  line when the error is about its arguments, ``show_usage``), chat answers with the message.
* :class:`Transient` — something needed did not answer (homeserver, Docker engine, a registry): try
  again later; nothing is wrong with the request.
* :class:`Failure` — everything else the operator must act on (a store the bot will not use, refused
  credentials, a backup that could not be made): the CLI exits 1 with the message.

Each public exception class of ``bot/`` and ``commands/`` derives from one kind (tests/test_errors.py
walks the modules). Those that code catches as a builtin (``ValueError``, ``LookupError``) keep that
base too, so no existing ``except`` changes meaning. Left out on purpose, as control flow inside one
module rather than errors a caller reports: the private ones (``_GitFailed``, ``_Refused``,
``_NotJunit``), :class:`bot.web.logview.Cancelled` (a request that went away), :class:`bot.web.hooks.BodyTooLarge`
(turned into a 413 where it is raised) and :class:`bot.artifacts.safeopen.Unsafe` with its subclasses
(a refused run-dir file, turned into "unreadable" evidence or a 404 by each reader).

This module imports nothing of the bot, so every layer (the model and the config included) may use it.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_BAD_INPUT = 2  # the CLI's exit code for a BadInput (1 for any other error)


class CcciError(Exception):
    """The root: an error the bot expects and can phrase for the operator; its message says what to do."""


class BadInput(CcciError):
    """Bad input: a name, an argument or a config value. ``show_usage``: the usage line helps."""

    show_usage: ClassVar[bool] = False


class Transient(CcciError):
    """Something needed did not answer; the same request may work later."""


class Failure(CcciError):
    """Neither the input's fault nor passing: the operator must act on what the message says."""
