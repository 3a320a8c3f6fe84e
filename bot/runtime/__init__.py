"""The running bot: :mod:`bot.runtime.bot` wires its parts into one event loop — rooms, the sync loop,
command tasks, undecryptable retries, cross-signing, rerun notices, the report loop — and tells systemd
about it (:mod:`bot.runtime.sdnotify`)."""
