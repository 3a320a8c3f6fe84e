"""cc-ci overlay: a voice client connects and sees the root channel."""

HANDSHAKE_TIMEOUT_S = 10


def test_handshake_completes_with_channel_presence(stack):
    took = stack.voice_handshake(timeout_s=HANDSHAKE_TIMEOUT_S)
    assert took <= HANDSHAKE_TIMEOUT_S


def test_welcome_text_configured(stack):
    assert stack.env_sample["MUMBLE_CONFIG_WELCOMETEXT"]
