"""The running bot: the Matrix bot's lifecycle and event loop (:mod:`bot.runtime.bot`), the report loop
inside it (:mod:`bot.runtime.report_loop`) and systemd's notify protocol (:mod:`bot.runtime.sdnotify`)."""
