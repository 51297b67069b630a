"""The generated corpus (tests/corpus.py) against Pillow, file by file (issue 12).

What Pillow opens we size, with Pillow's size, format and animation; what it refuses we refuse
with a typed error. The few deliberate departures are named in the corpus, with the decoder
rule we follow instead, and pinned here as departures: if Pillow changes, this test says so.
``pytest tests/test_header_corpus.py -s -k table`` prints the agreement table.
"""

from __future__ import annotations

from functools import lru_cache

import pytest
from corpus import RAISES, Verdict, agrees, cases, ours, pillow
from headers import data_url
from implementations import load_parser

CASES = cases()


@lru_cache(maxsize=None)
def pillows_verdict(name: str) -> Verdict:
    return pillow(next(case.data for case in CASES if case.name == name))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_corpus_agrees_with_pillow(parser, case):
    theirs, mine = pillows_verdict(case.name), ours(parser, case.data)
    if case.diverges:
        assert not agrees(theirs, mine), f"Pillow now agrees: drop the departure ({case.diverges})"
    else:
        assert agrees(theirs, mine), f"Pillow: {theirs}; ours: {mine}"
    # the same verdict from the file's data URL
    assert ours(parser, data_url(case.data).encode()) == mine


def test_the_twins_agree_on_the_corpus():
    compiled, reference = load_parser("cython"), load_parser("python")

    def outcome(parser, data):
        try:
            return parser.image_info(data)
        except Exception as error:  # noqa: BLE001 - the type and message are compared
            return type(error), str(error)

    for case in CASES:
        assert outcome(compiled, case.data) == outcome(reference, case.data), case.name


def kind_of(data: bytes) -> str:
    for magic, name in ((b"\x89PNG", "png"), (b"\xff\xd8", "jpeg"), (b"GIF8", "gif"), (b"RIFF", "webp")):
        if data.startswith(magic):
            return name
    return ""


def test_the_corpus_covers_each_format_both_ways():
    """Every format has files Pillow opens and files it refuses, and the GIF animation check
    meets a file Pillow cannot decide."""
    verdicts = [(kind_of(case.data), pillows_verdict(case.name)) for case in CASES]
    for name in ("png", "jpeg", "gif", "webp"):
        assert sum(kind == name and v.opened for kind, v in verdicts) >= 5, name
        assert sum(kind == name and not v.opened for kind, v in verdicts) >= 5, name
    assert any(v.animated == RAISES for _, v in verdicts)


def test_agreement_table(parser):
    """The table of the closing note: file, Pillow's verdict, ours, agreement."""
    rows = []
    for case in CASES:
        theirs, mine = pillows_verdict(case.name), ours(parser, case.data)
        same = agrees(theirs, mine)
        rows.append((case.name, str(theirs), str(mine).replace(RAISES, "undecided"),
                     "agree" if same else f"departs: {case.diverges}"))
    print("\n| file | Pillow | ours | |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    departures = sum(row[3] != "agree" for row in rows)
    print(f"\n{len(rows) - departures} of {len(rows)} files agree with Pillow; "
          f"{departures} depart by design.")
    assert departures == sum(bool(case.diverges) for case in CASES)


def encoder_outputs(count: int = 16):
    """Files Pillow's encoders write with many options, noise images of random sizes: each
    must get Pillow's own verdict (seeded, so a failure reproduces)."""
    import io
    import random

    from PIL import Image, PngImagePlugin

    rng = random.Random(20261201)
    for _ in range(count):
        size = (rng.randint(1, 400), rng.randint(1, 400))
        noise = Image.effect_noise(size, 60)
        text = PngImagePlugin.PngInfo()
        text.add_text("comment", "x" * 2000, zip=True)
        saves = [
            (noise.convert(rng.choice(["RGB", "RGBA", "L", "P", "1", "I;16"])), "PNG",
             {"optimize": rng.random() < 0.5, "pnginfo": text}),
            (noise.convert(rng.choice(["RGB", "L", "CMYK"])), "JPEG",
             {"quality": rng.randint(5, 95), "subsampling": rng.choice([0, 1, 2]),
              "progressive": rng.random() < 0.5, "dpi": (72, 300)}),
            (noise.convert("P"), "GIF", {"transparency": rng.randint(0, 255)}),
            (noise.convert("RGBA"), "WEBP", {"lossless": rng.random() < 0.5,
                                             "exif": b"Exif\x00\x00abc", "icc_profile": bytes(99)}),
        ]
        for image, fmt, options in saves:
            out = io.BytesIO()
            image.save(out, fmt, **options)
            yield f"{fmt} {image.mode} {size}", out.getvalue()
        frames = [Image.effect_noise(size, 20 + 20 * k).convert("RGB") for k in range(3)]
        for fmt in ("GIF", "PNG", "WEBP"):
            out = io.BytesIO()
            frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=[40, 80, 120])
            yield f"animated {fmt} {size}", out.getvalue()


def test_real_encoder_output_agrees_with_pillow(parser):
    for name, data in encoder_outputs():
        theirs, mine = pillow(data), ours(parser, data)
        assert theirs.opened and agrees(theirs, mine), f"{name}: Pillow {theirs}, ours {mine}"
