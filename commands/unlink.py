"""`unlink <recipe> [issue-url]`: remove a recipe's link (every link of it when no URL is given) (acts)."""

from __future__ import annotations

from bot.model.answers import KnowledgeChanged, NoticeAnswer
from commands import Arg, Command, Context, actor, refused_as_notice
from commands.args import RECIPE, URL


async def handle(ctx: Context, recipe: str, url: str | None) -> KnowledgeChanged | NoticeAnswer:
    return await refused_as_notice(ctx.service.knowledge.unlink(recipe, url, actor(ctx)), "Nothing unlinked")


COMMAND = Command(
    name="unlink",
    help="Remove a recipe's issue link (all of its links when no URL is given).",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a recipe name"),
        Arg("url", URL, "the issue's address (default: every link of the recipe)", optional=True, metavar="issue-url"),
    ),
)
