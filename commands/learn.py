"""`learn <recipe> <category> <pattern>`: propose a knowledge-base signature from the recipe's current
failure (acts).

The answer says whether the pattern matches the current failure, how many green runs it matches (it
must match none) and which other reds it would weigh on. In chat an operator's 👍 on that answer
teaches it (:mod:`bot.runtime.confirmations`); on the CLI, ``--apply``. Who taught it is the chat
sender, or on the CLI the Unix user.
"""

from __future__ import annotations

import os
import pwd

from bot.model.learn import LearnAnswer, LearnRequest
from bot.model.records import Category, ScanScope
from commands import Arg, Command, Context
from commands.args import PATTERN, RECIPE, SIGNATURE_CATEGORIES, SIGNATURE_CATEGORY


async def handle(ctx: Context, recipe: str, category: Category, pattern: str) -> LearnAnswer:
    request = LearnRequest(recipe, category, pattern)
    return await ctx.service.knowledge.learn(request, ctx.sender or local_user(), apply=ctx.confirmed)


def local_user() -> str:
    """The Unix user running the CLI: who taught a signature with ``--apply``."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def scope(recipe: str, category: Category, pattern: str) -> ScanScope:
    """The recipe's own runs; the green runs and other reds are read as the store has them."""
    return ScanScope(recipes=frozenset({recipe}))


COMMAND = Command(
    name="learn",
    help=(
        "Teach the knowledge base a signature from the recipe's current failure: it must match that failure"
        " and no green run. In chat an operator's 👍 on the answer confirms it; on the command line, --apply."
    ),
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("category", SIGNATURE_CATEGORY, f"the category it gives: {', '.join(SIGNATURE_CATEGORIES)}"),
        Arg(
            "pattern",
            PATTERN,
            "an RE2 regular expression over the failure text (in chat: the rest of the line)",
            rest=True,
        ),
    ),
    cli_flags=(("--apply", "write the signature, reload the knowledge base and decide every red again"),),
)
