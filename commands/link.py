"""`link <recipe> <issue-url> [note…]`: tie the recipe's current red failure to an issue (acts).

A later red that fails the same way (same fingerprint) carries the link; one that fails differently
shows it as not matching. The URL is stored and shown escaped, never fetched."""

from __future__ import annotations

from bot.memory.acts import Refused
from bot.model.answers import KnowledgeChanged, NoticeAnswer
from bot.model.records import ScanScope
from commands import Arg, Command, Context, actor
from commands.args import NOTE, RECIPE, URL


async def handle(ctx: Context, recipe: str, url: str, note: str) -> KnowledgeChanged | NoticeAnswer:
    try:
        return await ctx.service.link(recipe, url, note, actor(ctx))
    except Refused as exc:
        return NoticeAnswer(f"Not linked: {exc}.", ok=False)


def scope(recipe: str, **_rest: object) -> ScanScope:
    """The CLI scans the recipe's runs first, so the failure recorded against is its current one."""
    return ScanScope(recipes=frozenset({recipe}))


COMMAND = Command(
    name="link",
    help="Tie a recipe's current red failure to its issue in a tracker; later reds that fail the same way keep it.",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("url", URL, "the issue's http(s) address (≤ 500 characters; shown, never fetched)", metavar="issue-url"),
        Arg(
            "note",
            NOTE,
            "a short note (≤ 500 characters)",
            optional=True,
            default="",
            option=True,
            rest=True,
            cli_metavar="TEXT",
        ),
    ),
)
