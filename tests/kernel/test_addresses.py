"""Which addresses are one account, and which are refused when given to an account."""

from __future__ import annotations

import sys
import unicodedata

import httpx
import pytest

from fastapi_auth.kernel.addresses import (
    NOT_SCRIPT_WORDS,
    SCRIPT_WORDS,
    email_key,
    local_part_problem,
)


def test_the_script_words_cover_every_letter_python_knows() -> None:
    """A new Unicode version brings new scripts: this says which words to sort."""
    unsorted = set()
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char).startswith("L") and (name := unicodedata.name(char, "")):
            head = name.split()[0].split("-")[0]
            if head not in SCRIPT_WORDS | NOT_SCRIPT_WORDS:
                unsorted.add(head)
    assert unsorted == set()


@pytest.mark.parametrize(
    ("copy", "original"),
    [
        ("\uff41\uff44\uff41", "ada"),  # fullwidth
        ("\U0001d41a\U0001d41d\U0001d41a", "ada"),  # mathematical bold
        ("\u0130da", "ida"),  # dotted capital I
        ("ad\u0131", "adi"),  # dotless i
        ("gi\u01c0\u01c0", "gill"),  # dental clicks
        ("b\u1d0fb", "bob"),  # small capital o
        ("ab\u1d04", "abc"),  # small capital c
        ("o\u02bcbrien", "o'brien"),  # modifier apostrophe
        ("o\ua78cbrien", "o'brien"),  # saltillo
        ("\ufb01ne", "fine"),  # ligature
        ("ADA", "ada"),
    ],
)
def test_look_alikes_share_a_key(copy: str, original: str) -> None:
    assert email_key(f"{copy}@example.com") == email_key(f"{original}@example.com")
    assert local_part_problem(copy) is None


@pytest.mark.parametrize(
    "local_part",
    [
        "p\u0430ypal",  # a Cyrillic a
        "g\u0966\u0966gle",  # Devanagari zeros
        "app\u0661e",  # an Arabic-Indic one
        "app\u06f1e",  # an extended Arabic-Indic one
        "paypa\u05c0",  # Hebrew paseq
        "\u03bfpen",  # a Greek omicron
        "apple\u034f",  # combining grapheme joiner
        "pay\ufe0f",  # variation selector
        "ad\u00ada",  # soft hyphen
        "ad\u200ba",  # zero-width space
    ],
)
def test_mixed_scripts_and_invisible_characters_are_refused(local_part: str) -> None:
    assert local_part_problem(local_part) is not None


@pytest.mark.parametrize(
    "local_part",
    [
        "ada",
        "ada.lovelace+tag",
        "\u0438\u0432\u0430\u043d",
        "\u5c71\u7530\u305f\u308d\u3046",
        "\u0905\u0928\u093f\u0932\u0966\u0967",
        "zo\u00eb",
    ],
)
def test_one_script_is_welcome(local_part: str) -> None:
    assert local_part_problem(local_part) is None


async def test_logging_in_with_a_refused_address_is_a_wrong_login_not_a_422(
    client: httpx.AsyncClient,
) -> None:
    """Accounts made before the rule must still reach their account; nothing here says
    more than for any other unknown address."""
    response = await client.post(
        "/auth/login", json={"email": "p\u0430ypal@example.com", "password": "whatever it is"}
    )
    assert response.status_code == 401
    forgot = await client.post("/auth/forgot-password", json={"email": "p\u0430ypal@example.com"})
    assert forgot.status_code == 202
