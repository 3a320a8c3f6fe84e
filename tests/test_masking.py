"""Masking secrets in page text: every occurrence, overlapping ones too, metacharacters taken literally."""

from __future__ import annotations

import pytest

from bot.masking import MASK, Masker


def test_every_occurrence_is_masked() -> None:
    masker = Masker(["hunter22"])
    assert masker.mask("login hunter22 ok; again:hunter22") == f"login {MASK} ok; again:{MASK}"


def test_text_without_secrets_is_returned_as_is() -> None:
    text = "nothing to hide here " * 10
    assert Masker(["hunter22"]).mask(text) is text


def test_empty_list_is_a_no_op_returning_the_same_object() -> None:
    text = "token=abcd1234"
    for masker in (Masker([]), Masker(["", "abc", "x"])):
        assert masker.count == 0
        assert masker.mask(text) is text


def test_secrets_shorter_than_four_characters_are_ignored() -> None:
    masker = Masker(["abc", "abcd"])
    assert masker.mask("abc abcd") == f"abc {MASK}"


def test_secret_inside_a_longer_word_is_masked() -> None:
    masker = Masker(["s3cr3t"])
    assert masker.mask("PASSWORD=xxs3cr3txx") == f"PASSWORD=xx{MASK}xx"


def test_overlapping_secrets_leave_no_part_of_either() -> None:
    masker = Masker(["abcdef", "defghi"])
    assert masker.mask("<abcdefghi>") == f"<{MASK}>"
    assert masker.mask("defghi abcdef") == f"{MASK} {MASK}"


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = Masker(["pass", "password123"])
    assert masker.mask("password123 pass passport") == f"{MASK} {MASK} {MASK}port"


def test_repeated_secret_runs_are_one_mask() -> None:
    masker = Masker(["aaaa"])
    assert masker.mask("xaaaaaay") == f"x{MASK}y"  # six a's: two overlapping occurrences


def test_regex_metacharacters_are_literal() -> None:
    secrets = ["a.b*c+d?", "(x|y)[z]{2}", "^$\\d\\", "p@ss w0rd"]
    masker = Masker(secrets)
    assert masker.mask("aXbbbcd " + " ".join(secrets)) == "aXbbbcd " + " ".join([MASK] * 4)


def test_unicode_secrets() -> None:
    masker = Masker(["pässwörd€"])
    assert masker.mask("key: pässwörd€!") == f"key: {MASK}!"


def test_multi_line_secret_is_masked_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----"
    masker = Masker([key])
    assert masker.mask(key) == MASK
    assert masker.mask("    MIIEvQIBADANBgkq") == f"    {MASK}"


def test_from_environment_reads_named_variables_and_skips_missing() -> None:
    environ = {"MATRIX_TOKEN": "syt_abcdef", "SHORT": "ab", "OTHER": "not-a-secret"}
    masker = Masker.from_environment(["MATRIX_TOKEN", "UNSET_VAR", "SHORT"], environ)
    assert masker.count == 1
    assert masker.mask("Bearer syt_abcdef not-a-secret ab") == f"Bearer {MASK} not-a-secret ab"


def test_from_environment_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCCI_TEST_SECRET", "zebra-42-quux")
    assert Masker.from_environment(["CCCI_TEST_SECRET"]).mask("x zebra-42-quux") == f"x {MASK}"


def test_many_secrets_on_a_large_page() -> None:
    secrets = [f"secret-value-{i:04d}-{'k' * (i % 17)}" for i in range(200)]
    masker = Masker(secrets)
    page = "\n".join(f"2026-06-14 runner: step {i} ok" for i in range(20_000))  # ~600 kB, 500-line pages x 40
    page += "\n" + secrets[123]
    out = masker.mask(page)  # speed is measured in benchmarks/web.py, not asserted here
    assert out.endswith("\n" + MASK) and secrets[123] not in out
    assert out.count(MASK) == 1
