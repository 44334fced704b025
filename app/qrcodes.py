"""QR codes for paper and screens: segno's symbols, with the data mask chosen here, faster.

A QR symbol is drawn under one of eight data masks, and the encoder must pick the one whose penalty score
is lowest (ISO/IEC 18004:2015 7.8.3). segno applies and scores each mask module by module in Python: 3 of
the 4 ms a statement's code costs, and a batch issues 500 statements in the process that also feeds the
printing pool (bench figure 4). Here segno encodes the symbol once under mask 0; the mask is taken off again
and the eight masks are scored on whole rows held as integers and on strings scanned by the regular-expression
engine, with the standard's four rules exactly as segno scores them; the chosen mask replaces mask 0 and segno
writes its format information. tests/test_qrcodes.py compares every module with segno.make's.

Micro QR symbols (short contents) are left to segno: they have four masks and a cheap score.
"""
from __future__ import annotations

import functools
import re

import segno
from segno import encoder as _enc

#: 5 or more modules of one colour in a row or column: N1 = 3, plus 1 per module beyond 5
_RUN = re.compile(r"0{5,}|1{5,}")
#: the finder-like pattern dark:light:dark:dark:dark:light:dark of rule N3
_FINDER = "1011101"
_TO_BITS = bytes.maketrans(b"\x00\x01", b"01")
_FROM_BITS = bytes.maketrans(b"01", b"\x00\x01")

def make(content: str, *, error: str = "m") -> segno.QRCode:
    """segno.make(content, error=error): the same symbol, module for module, made in half the time."""
    first = _enc.encode(content, error, mask=0)
    if first.version < 1:  # Micro QR
        return segno.make(content, error=error)
    rows = [int(row.translate(_TO_BITS), 2) for row in first.matrix]
    best = best_mask(rows)
    if best == 0:
        return segno.QRCode(first)
    # the chosen mask in place of mask 0 on the data region, then that mask's format information
    width = len(rows)
    _, patterns = _layout(width)
    matrix = tuple(bytearray(format(row ^ old ^ new, f"0{width}b").encode().translate(_FROM_BITS))
                   for row, old, new in zip(rows, patterns[0], patterns[best]))
    _enc.add_format_info(matrix, first.version, first.error, best)
    return segno.QRCode(first._replace(matrix=matrix, mask=best))


def best_mask(rows: list[int]) -> int:
    """The mask segno would choose for a QR (not Micro QR) symbol drawn under mask 0, given as row integers
    (the highest bit of each is the row's first module)."""
    width = len(rows)
    reserved, patterns = _layout(width)
    # back to the matrix segno scores: mask 0 taken off the data region, format and version areas light
    plain = [row & ~res ^ pat for row, res, pat in zip(rows, reserved, patterns[0])]
    scores = [_penalty([row ^ pat for row, pat in zip(plain, mask)], width) for mask in patterns]
    return scores.index(min(scores))  # the first of equals, as segno's strict comparison keeps


@functools.lru_cache(maxsize=8)
def _layout(width: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """For a symbol `width` modules wide: each row's format and version modules, and each mask's modules
    flipped in each row (the data region only), as integers whose highest bit is the row's first module."""
    region = _enc.make_matrix(width, width)
    _enc.add_finder_patterns(region, width, width)
    _enc.add_alignment_patterns(region, width, width)
    region[-8][8] = 0x1  # the dark module
    reserved_only = _enc.make_matrix(width, width, add_timing=False)
    timing = _enc.make_matrix(width, width, reserve_regions=False)

    def row_bits(cells) -> int:
        return int("".join("1" if c else "0" for c in cells), 2)

    reserved = tuple(row_bits(reserved_only[i][j] == 0x0 and timing[i][j] == 0x2 for j in range(width))
                     for i in range(width))
    # the data mask conditions of Table 10, as segno writes them (a module is flipped where true)
    patterns = tuple(tuple(row_bits(region[i][j] > 0x1 and mask(i, j) for j in range(width))
                           for i in range(width)) for mask in _enc.get_data_mask_functions(False))
    return reserved, patterns


def _penalty(rows: list[int], width: int) -> int:
    """The penalty score N1 + N2 + N3 + N4 of a symbol given as row integers (segno's mask_scores)."""
    lines = [format(row, f"0{width}b") for row in rows]
    columns = ["".join(col) for col in zip(*lines)]
    every = lines + columns
    # N1: runs of one colour, 5 modules or more
    runs = _RUN.findall(" ".join(every))
    score = sum(map(len, runs)) - 2 * len(runs)
    # N2: each 2 × 2 block of one colour (blocks overlap)
    full = (1 << width) - 1
    pairs = full >> 1
    for upper, lower in zip(rows, rows[1:]):
        same_column = ~(upper ^ lower) & full
        same_row = ~(upper ^ (upper >> 1)) & pairs
        score += 3 * (same_column & (same_column >> 1) & same_row).bit_count()
    # N3: the finder-like pattern with 4 light modules before or after it (the edge counts as light)
    for line in every:
        score += _finder_like(line, width)
    # N4: how far the share of dark modules is from half, in steps of 5 %
    dark = sum(row.bit_count() for row in rows)
    score += 10 * int(abs(float(dark) / (width ** 2) * 100 - 50) / 5)
    return score


def _finder_like(line: str, width: int) -> int:
    """Rule N3 on one row or column, counted as segno counts it (a match's next search starts after it)."""
    count = 0
    idx = line.find(_FINDER)
    while idx != -1:
        end = idx + 7
        if idx in (0, width - 7) or "1" not in line[max(idx - 4, 0):idx] or "1" not in line[end:end + 4]:
            count += 40
        else:
            end = idx + 4
        idx = line.find(_FINDER, end)
    return count
