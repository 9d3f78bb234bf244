"""When two email addresses are one account, and which ones are refused.

Uniqueness is decided on a key: NFKC, case folding, and the Latin look-alikes those two
leave (UTS #39's confusables, for the letters used to spoof addresses), so a fullwidth,
mathematical-bold, small-capital or dotless-i copy of an address is the address. A local
part may not mix scripts (a Cyrillic a among Latin letters, Devanagari zeros in a Latin
word) nor hold characters that show as nothing. What this leaves: a whole address in
another script that looks like a Latin one (all-Cyrillic "apple"), which only a
whole-script confusables table catches.
"""

from __future__ import annotations

import unicodedata

SAME_LOOKING = str.maketrans(
    {
        "\u0131": "i",  # dotless i
        "\u0237": "j",  # dotless j
        "\u0251": "a",  # Latin alpha
        "\u0261": "g",  # script g
        "\u0269": "i",  # Latin iota
        "\u026a": "i",  # small capitals, from here on
        "\u0262": "g",
        "\u029c": "h",
        "\u029f": "l",
        "\u0274": "n",
        "\u0280": "r",
        "\u028f": "y",
        "\u1d00": "a",
        "\u1d04": "c",
        "\u1d05": "d",
        "\u1d07": "e",
        "\u1d0a": "j",
        "\u1d0b": "k",
        "\u1d0d": "m",
        "\u1d0f": "o",
        "\u1d18": "p",
        "\u1d1b": "t",
        "\u1d1c": "u",
        "\u1d20": "v",
        "\u1d21": "w",
        "\u1d22": "z",
        "\ua730": "f",
        "\ua731": "s",
        "\u01c0": "l",  # dental click, a bar
        "\u01c3": "!",  # retroflex click
        "\u02bc": "'",  # modifier apostrophe
        "\ua78c": "'",  # saltillo
        "\u0307": None,  # the dot case folding leaves after the i of a dotted capital I
    }
)
INVISIBLE = frozenset(
    {0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0}
    | set(range(0x180B, 0x1810))
    | set(range(0x200B, 0x2010))
    | set(range(0x202A, 0x202F))
    | set(range(0x2060, 0x2070))
    | set(range(0xFE00, 0xFE10))
    | set(range(0xFFF0, 0xFFF9))
    | set(range(0x1BCA0, 0x1BCA4))
    | set(range(0x1D173, 0x1D17B))
    | set(range(0xE0000, 0xE1000))
)
"""Unicode's default-ignorable code points: shown as nothing, so `apple` with one in it
looks like `apple`."""
SCRIPTS_WRITTEN_TOGETHER = (
    frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"CJK", "HANGUL"}),
    frozenset({"CJK", "BOPOMOFO"}),
)
SCRIPT_WORDS = frozenset(
    {
        "ADLAM",
        "AHOM",
        "ANATOLIAN",
        "ARABIC",
        "ARMENIAN",
        "AVESTAN",
        "BALINESE",
        "BAMUM",
        "BASSA",
        "BATAK",
        "BENGALI",
        "BHAIKSUKI",
        "BOPOMOFO",
        "BRAHMI",
        "BUGINESE",
        "BUHID",
        "CANADIAN",
        "CARIAN",
        "CAUCASIAN",
        "CHAKMA",
        "CHAM",
        "CHEROKEE",
        "CHORASMIAN",
        "CJK",
        "COPTIC",
        "CUNEIFORM",
        "CYPRIOT",
        "CYPRO",
        "CYRILLIC",
        "DESERET",
        "DEVANAGARI",
        "DIVES",
        "DOGRA",
        "DUPLOYAN",
        "EGYPTIAN",
        "ELBASAN",
        "ELYMAIC",
        "ETHIOPIC",
        "GEORGIAN",
        "GLAGOLITIC",
        "GOTHIC",
        "GRANTHA",
        "GREEK",
        "GUJARATI",
        "GUNJALA",
        "GURMUKHI",
        "HANGUL",
        "HANIFI",
        "HANUNOO",
        "HATRAN",
        "HEBREW",
        "HENTAIGANA",
        "HIRAGANA",
        "IMPERIAL",
        "INSCRIPTIONAL",
        "JAVANESE",
        "KAITHI",
        "KANNADA",
        "KATAKANA",
        "KAYAH",
        "KHAROSHTHI",
        "KHITAN",
        "KHMER",
        "KHOJKI",
        "KHUDAWADI",
        "LAO",
        "LATIN",
        "LEPCHA",
        "LIMBU",
        "LINEAR",
        "LISU",
        "LYCIAN",
        "LYDIAN",
        "MAHAJANI",
        "MAKASAR",
        "MALAYALAM",
        "MANDAIC",
        "MANICHAEAN",
        "MARCHEN",
        "MASARAM",
        "MASU",
        "MEDEFAIDRIN",
        "MEETEI",
        "MENDE",
        "MEROITIC",
        "MIAO",
        "MODI",
        "MONGOLIAN",
        "MRO",
        "MULTANI",
        "MYANMAR",
        "NABATAEAN",
        "NANDINAGARI",
        "NEW",
        "NEWA",
        "NKO",
        "NUSHU",
        "NYIAKENG",
        "OGHAM",
        "OL",
        "OLD",
        "ORIYA",
        "OSAGE",
        "OSMANYA",
        "PAHAWH",
        "PALMYRENE",
        "PAU",
        "PHAGS",
        "PHOENICIAN",
        "PSALTER",
        "REJANG",
        "RUNIC",
        "SAMARITAN",
        "SAURASHTRA",
        "SHARADA",
        "SHAVIAN",
        "SIDDHAM",
        "SINHALA",
        "SOGDIAN",
        "SORA",
        "SOYOMBO",
        "SUNDANESE",
        "SYLOTI",
        "SYRIAC",
        "TAGALOG",
        "TAGBANWA",
        "TAI",
        "TAKRI",
        "TAMIL",
        "TANGSA",
        "TANGUT",
        "TELUGU",
        "THAANA",
        "THAI",
        "TIBETAN",
        "TIFINAGH",
        "TIRHUTA",
        "TOTO",
        "UGARITIC",
        "VAI",
        "VEDIC",
        "VITHKUQI",
        "WANCHO",
        "WARANG",
        "YEZIDI",
        "YI",
        "ZANABAZAR",
    }
)
"""The words letters' Unicode names begin with when they name a script (LATIN, CYRILLIC,
DEVANAGARI, CJK, ...), as of Unicode 14.0.0; `NOT_SCRIPT_WORDS` the others (their
letters are folded to a script's by NFKC, or are signs). A test checks the two cover
every letter of the Unicode database Python ships."""
NOT_SCRIPT_WORDS = frozenset(
    {
        "ALEF",
        "ANGSTROM",
        "BET",
        "BLACK",
        "CAPITAL",
        "CARON",
        "COMBINING",
        "DALET",
        "DOUBLE",
        "EULER",
        "FEMININE",
        "FULLWIDTH",
        "GIMEL",
        "HALFWIDTH",
        "IDEOGRAPHIC",
        "INFORMATION",
        "KELVIN",
        "LETTER",
        "MASCULINE",
        "MATHEMATICAL",
        "MICRO",
        "MODIFIER",
        "OHM",
        "PLANCK",
        "ROMAN",
        "SCRIPT",
        "SMALL",
        "SUPERSCRIPT",
        "TURNED",
        "VERTICAL",
    }
)


def email_key(email: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())
    return folded.translate(SAME_LOOKING)


def script_of(char: str) -> str | None:
    """The script a character's name says it belongs to (a digit or a sign of a script
    too: DEVANAGARI DIGIT ZERO, ARABIC-INDIC DIGIT ONE, HEBREW PUNCTUATION PASEQ); None
    for ASCII and for what every script shares (marks, common punctuation)."""
    if char.isascii():
        return None
    for word in unicodedata.name(char, "").split():
        head = word.split("-")[0]
        if head in SCRIPT_WORDS:
            return head
        if word not in {"EXTENDED"}:
            return None
    return None


def scripts_of(text: str) -> set[str]:
    """The scripts of `text` after NFKC; plain ASCII letters are Latin."""
    scripts = set()
    for char in unicodedata.normalize("NFKC", text):
        if char.isascii():
            if char.isalpha():
                scripts.add("LATIN")
            continue
        script = script_of(char)
        if script is not None:
            scripts.add(script)
    return scripts


def local_part_problem(local_part: str) -> str | None:
    """Why a local part is refused, or None."""
    if any(ord(char) in INVISIBLE for char in local_part):
        return "the part before @ holds a character that shows as nothing; remove it"
    scripts = scripts_of(local_part)
    if len(scripts) > 1 and not any(scripts <= joint for joint in SCRIPTS_WRITTEN_TOGETHER):
        return (
            "the part before @ mixes scripts ("
            + ", ".join(sorted(script.title() for script in scripts))
            + "); use the letters and digits of one script"
        )
    return None
