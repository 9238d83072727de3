"""Model text stored by `leash sample` is valid Unicode, whatever a server's JSON held."""

import pytest

from leash.sampling import _unicode


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("plain", "plain"),
        ("a\ud800b", "a\ufffdb"),  # a lone high surrogate
        ("\udc00", "\ufffd"),  # a lone low surrogate
        ("\ud83d\ude00", "\U0001f600"),  # a surrogate pair is the character it encodes
        (None, None),
    ],
)
def test_lone_surrogates_become_the_replacement_character(text, stored):
    assert _unicode(text) == stored
    if stored is not None:
        stored.encode("utf-8")  # what pyarrow needs to write it
