"""The HTTP server's sections of the config file (``web``, ``web.auth``), declared as
:mod:`bot.config.sections` declares the others; :class:`bot.config.schema.Config` puts them in their place."""

from __future__ import annotations

from typing import Annotated

from bot.config import values as v
from bot.config.sections import Section, doc
from bot.config.values import ConfigError


class WebAuthConfig(Section, frozen=True):
    """Optional access control (secrets from the environment): a bearer token, and/or basic auth. `/healthz` and the
    webhook are exempt. Default: none (open; listen on 127.0.0.1 or behind a proxy)."""

    bearer_token_env: Annotated[
        v.EnvName | None,
        doc("The environment variable holding the bearer token the pages accept.", example="CCCI_WEB_TOKEN"),
    ] = None
    basic_user: Annotated[
        v.Text | None, doc("The basic-auth user name (required with `basic_password_env`).", example="ops")
    ] = None
    basic_password_env: Annotated[
        v.EnvName | None, doc("The environment variable holding the basic-auth password.", example="CCCI_WEB_PASSWORD")
    ] = None

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_token_env or self.basic_password_env)

    def check(self) -> None:
        """Rules across keys, applied when the file is read."""
        if self.basic_password_env and not self.basic_user:
            raise ConfigError("web.auth.basic_user: required with web.auth.basic_password_env")


class WebConfig(Section, frozen=True):
    """The bot's HTTP server."""

    listen: Annotated[
        v.ListenAddress | None,
        doc(
            "The bot's HTTP server (evidence pages, `/api`, `/healthz`, `/metrics`, the webhook) listens here; none "
            "means no server. `ccci-bot web` serves the pages alone.",
            example="127.0.0.1:8080",
        ),
    ] = None
    public_url: Annotated[
        v.HttpUrl | None,
        doc(
            "How operators reach the server; when `links.base_url` is not set, every link in chat points at these "
            "pages.",
            example="https://ccci-bot.example.org",
        ),
    ] = None
    auth: WebAuthConfig = WebAuthConfig()
    log_page_lines: Annotated[v.PositiveInt, doc("Lines per log page.")] = 500
    request_timeout_s: Annotated[
        v.PositiveSeconds,
        doc(
            "A page's file work (counting a log's lines) stops after this many seconds (503), or as soon as the "
            "client has gone; the counting done is kept for the next request."
        ),
    ] = 30.0
    client_timeout_s: Annotated[
        v.PositiveSeconds,
        doc(
            "A client must send a request's headers within this many seconds of connecting (or of its previous "
            "response), and the webhook its body within as many again; a slower connection is closed."
        ),
    ] = 10.0
    max_connections: Annotated[
        v.PositiveInt,
        doc(
            "Open connections to the HTTP server at most (fewer when the open-files limit leaves less room). One more "
            "closes the connection idle longest (out of a request for a tenth of `client_timeout_s` at least), or, "
            "when there is none, gets a 503 at once."
        ),
    ] = 256
