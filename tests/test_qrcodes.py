"""app.qrcodes draws the very symbol segno draws: same version, error level, mask and modules.

The statements, kiosk cards and patrol stickers print app.qrcodes' codes; a phone must read them as it
reads segno's, and the standard asks for the mask with the lowest penalty, which segno computes.
"""
from __future__ import annotations

import random
import string

import pytest
import segno

from app import qrcodes

ALPHABET = string.ascii_letters + string.digits + "/-._~?=&"


def _contents(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.choice([2, 6, 12, 24, 40, 60, 100, 180, 320])
        kind = rng.random()
        if kind < 0.6:
            out.append("http://" + "".join(rng.choice(ALPHABET) for _ in range(length)))
        elif kind < 0.8:
            out.append("".join(rng.choice(string.digits) for _ in range(length)))
        else:  # Chinese text: byte mode, long symbols
            out.append("".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(length // 3 + 1)))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_every_symbol_matches_segno_module_for_module(seed):
    masks, versions = set(), set()
    for content in _contents(seed, 400):
        ours, theirs = qrcodes.make(content, error="m"), segno.make(content, error="m")
        assert (ours.designator, ours.mask) == (theirs.designator, theirs.mask), content
        assert ours.matrix == theirs.matrix, content
        masks.add(theirs.mask)
        versions.add(theirs.version)
    # the sample reaches every mask, Micro QR and symbols with version information (7 and up)
    assert masks == set(range(8))
    assert any(isinstance(v, str) for v in versions) and any(isinstance(v, int) and v >= 7 for v in versions)


def test_a_statement_code_and_its_image_are_segnos():
    url = "http://192.168.1.20:8000/verify/7KQ2-M9XH-4TPA"
    ours, theirs = qrcodes.make(url), segno.make(url, error="m")
    assert ours.png_data_uri(scale=1, border=2) == theirs.png_data_uri(scale=1, border=2)
    assert ours.svg_data_uri(scale=4) == theirs.svg_data_uri(scale=4)


def test_best_mask_scores_as_segno_scores():
    """The penalty of each mask, not only the winner, is segno's (a tie broken differently would show)."""
    from segno import encoder

    for content in _contents(3, 60):
        code = encoder.encode(content, "m", mask=0)
        if code.version < 1:
            continue
        width = len(code.matrix)
        reserved, patterns = qrcodes._layout(width)
        rows = [int(row.translate(qrcodes._TO_BITS), 2) for row in code.matrix]
        plain = [row & ~res ^ pat for row, res, pat in zip(rows, reserved, patterns[0])]
        for k, mask in enumerate(patterns):
            masked = [row ^ pat for row, pat in zip(plain, mask)]
            matrix = tuple(bytearray(format(row, f"0{width}b").encode().translate(qrcodes._FROM_BITS))
                           for row in masked)
            assert qrcodes._penalty(masked, width) == encoder.evaluate_mask(matrix, width, width), (content, k)
