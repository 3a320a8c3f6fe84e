"""`link <recipe> <issue-url> [note…]`: tie the recipe's current red failure to an issue (acts).

A later red that fails the same way (same fingerprint) carries the link; one that fails differently
shows it as not matching. The URL is stored and shown escaped, never fetched."""

from __future__ import annotations

from bot.model.answers import KnowledgeChanged, NoticeAnswer
from commands import Arg, Command, Context, actor, refused_as_notice
from commands.args import RECIPE, URL, rest_text


async def handle(ctx: Context, recipe: str, url: str, note: str) -> KnowledgeChanged | NoticeAnswer:
    return await refused_as_notice(ctx.service.knowledge.link(recipe, url, note, actor(ctx)), "Not linked")


COMMAND = Command(
    name="link",
    help="Tie a recipe's current red failure to its issue in a tracker; later reds that fail the same way keep it.",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("url", URL, "the issue's http(s) address (≤ 500 characters; shown, never fetched)", metavar="issue-url"),
        rest_text("note", "a short note (≤ 500 characters)"),
    ),
)
