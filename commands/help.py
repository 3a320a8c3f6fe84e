"""`help [command]`: generated from the command registry, so it can never disagree with what exists."""

from __future__ import annotations

from bot.answers.suggest import closest
from bot.model.answers import ArgHelp, CommandHelp, HelpAnswer
from commands import Arg, Command, Context, UsageError
from commands.args import TEXT


def describe(command: Command, usage: str | None = None) -> CommandHelp:
    """A command's help entry, from its declaration (the CLI passes its own usage spelling)."""
    args = [ArgHelp(a.metavar or a.name, a.help, a.optional, a.choices) for a in command.args]
    return CommandHelp(command.name, usage or command.usage, command.help, command.acts, args)


async def handle(ctx: Context, about: str | None) -> HelpAnswer:
    commands = ctx.commands
    if about is None:
        return HelpAnswer(ctx.prefix, [describe(c) for c in commands.values()])
    if about not in commands:
        raise UsageError(no_such_command(about, list(commands)))
    return HelpAnswer(ctx.prefix, [describe(commands[about])], detailed=True)


def no_such_command(name: str, known: list[str]) -> str:
    hint = closest(name, known)
    return f"no command {name[:40]!r}{'; did you mean ' + ' or '.join(hint) + '?' if hint else ''}"


COMMAND = Command(
    name="help",
    help="This list; `help <command>` explains one command's arguments.",
    acts=False,
    handler=handle,
    args=(Arg("about", TEXT, "a command name", optional=True, metavar="command", cli_metavar="COMMAND"),),
)
