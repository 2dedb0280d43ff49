#!/usr/bin/env python3
"""Writes lib/text/ftfy_tables.inc: the data behind the mojibake repair of ftfy 6.3.1's fix_text
(see docs/tokenizer.md), derived here rather than typed into C:

- the ten single-byte codecs ftfy re-encodes text with, in the order it tries them, built from
  Python's own codecs; the Windows code pages "sloppy" (an undefined byte stands for the code
  point of the same number, byte 0x1A for U+FFFD);
- the five UTF-8 "clue" classes of ftfy's detector of embedded mojibake, computed from those
  codecs (which characters a UTF-8 lead or continuation byte turns into);
- the character groups and the rules of ftfy's badness heuristic, written below in a small
  notation of our own, compiled to bit sets: every distinct character set a rule position uses
  gets one bit; each character's entry has the bits of the sets holding it. Sets that also
  contain every character with some property (Python's \\s, \\w, the regex dot, "not an ASCII
  letter") record that property instead, to be tested at run time.

Usage: python3 tools/gen_ftfy_tables.py > lib/text/ftfy_tables.inc
"""
import sys
import unicodedata

# ---------------------------------------------------------------------------------------------
# Codecs, in the order ftfy tries them; True = sloppy Windows code page.
CODECS = [
    ("latin-1", False),
    ("windows-1252", True),
    ("windows-1251", True),
    ("windows-1250", True),
    ("windows-1253", True),
    ("windows-1254", True),
    ("windows-1257", True),
    ("iso-8859-2", False),
    ("mac-roman", False),
    ("cp437", False),
]
# Code pages whose byte meanings define ftfy's UTF-8 clue classes.
CLUE_CODECS = ["latin-1", "windows-1252", "windows-1251", "windows-1250", "windows-1253",
               "windows-1254", "windows-1257"]


def decode_table(name, sloppy):
    chars = bytes(range(256)).decode(name, errors="replace")
    table = []
    for b, ch in enumerate(chars):
        cp = ord(ch)
        if cp == 0xFFFD:
            if not sloppy:
                sys.exit("%s: byte %02X undefined" % (name, b))
            cp = b
        table.append(cp)
    if sloppy:
        table[0x1A] = 0xFFFD
    for b in range(0x80):
        if b != 0x1A and table[b] != b:
            sys.exit("%s: byte %02X is not ASCII" % (name, b))
    if len(set(table)) != 256:
        sys.exit("%s: two bytes decode to one character" % name)
    if max(table) > 0xFFFF:
        sys.exit("%s: character outside the BMP" % name)
    return table


# ---------------------------------------------------------------------------------------------
# Character groups of the badness heuristic: (first, last) ranges or single code points.
def R(*items):
    out = set()
    for it in items:
        if isinstance(it, tuple):
            out.update(range(it[0], it[1] + 1))
        else:
            out.add(it)
    return frozenset(out)


GROUPS = {
    # ordinary in many contexts: nbsp, soft hyphen, acute, middle dot, dashes, ellipsis, apostrophe
    "common": R(0xA0, 0xAD, 0xB4, 0xB7, (0x2013, 0x2015), 0x2019, 0x2026),
    "c1": R((0x80, 0x9F)),
    # almost only ever seen in mojibake
    "bad": R(0xA4, 0xA6, 0xA8, 0xAA, 0xAC, 0xAF, 0xB8, 0xBA, 0x192, (0x2C6, 0x2C7), 0x2D8,
             (0x2DB, 0x2DC), (0x2020, 0x2021), 0x2030, 0x2310, 0x25CA, 0xFFFD),
    "law": R(0xA7, 0xB6),
    "currency": R((0xA2, 0xA3), 0xA5, 0x20A7, 0x20AC),
    "open": R(0xA1, 0xA9, 0xAB, 0xBF, (0x384, 0x385), 0x2018, 0x201A, 0x201C, 0x201E, 0x2022,
              0x2039, 0xF8FF),
    "close": R(0xAE, 0xBB, 0x2DD, 0x201D, 0x203A, 0x2122),
    "numeric": R((0xB1, 0xB3), 0xB5, 0xB9, (0xBC, 0xBE), 0xD7, 0xF7, 0x2044, 0x2116, 0x2202,
                 0x2206, 0x220F, 0x2211, 0x221A, 0x221E, 0x2229, 0x222B, 0x2248,
                 (0x2260, 0x2261), (0x2264, 0x2265)),
    # letters that emoticons are drawn with
    "face": R(0xB0, (0xD2, 0xD6), (0xD9, 0xDC), (0xF2, 0xF6), (0xF8, 0xFC), 0x14C, 0x150,
              0x16A, 0x172),
    "upper_acc": R((0xC0, 0xD1), 0xD8, (0xDC, 0xDD), 0x100, 0x102, 0x104, 0x106, 0x10C, 0x10E,
                   0x110, 0x112, 0x116, 0x118, 0x11A, 0x11E, 0x122, 0x12A, 0x130, 0x136,
                   0x139, 0x13B, 0x13D, 0x141, 0x143, 0x145, 0x147, 0x152, 0x158, 0x15A,
                   0x15E, 0x160, 0x162, 0x164, 0x16E, 0x170, (0x178, 0x179), 0x17B, 0x17D,
                   0x490),
    "lower_acc": R((0xDF, 0xF1), 0xFC, 0x101, 0x103, 0x105, 0x107, 0x10D, 0x10F, 0x111, 0x113,
                   0x117, 0x119, 0x11B, 0x11F, 0x123, 0x12B, 0x12F, 0x137, 0x13A, 0x13C,
                   0x13E, 0x142, 0x153, 0x155, 0x15B, 0x15F, 0x161, 0x165, 0x17A, 0x17C,
                   0x17E, 0x491, (0xFB01, 0xFB02)),
    "upper_plain": R(0xDE, 0x386, (0x388, 0x38A), 0x38C, (0x38E, 0x38F), (0x391, 0x3AB),
                     (0x401, 0x42F)),
    "lower_plain": R((0x3AC, 0x3C9), (0x430, 0x45F)),
    "box": R(0x2502, 0x250C, 0x2510, 0x2518, 0x251C, 0x2524, 0x252C, 0x253C, (0x2550, 0x256C),
             0x2580, 0x2584, 0x2588, 0x258C, (0x2590, 0x2593)),
    "a_z": R((0x61, 0x7A)),
    "A_Z": R((0x41, 0x5A)),
}

# Run-time properties a rule position may accept besides its listed characters.
PROPS = ["space", "word", "not_newline", "not_ascii_letter"]


def lit(s):
    return frozenset(ord(c) for c in s)


# A rule is a list of positions; a position is a list of group names, literal strings (in
# quotes: "'...'") and run-time properties. "^" as the first item anchors the rule at the
# start of the text. Text is bad when any rule matches anywhere.
SYMBOLS = "bad lower_acc upper_acc box open close currency numeric law".split()
RULES = [
    [["c1"]],
    [SYMBOLS, ["bad"]],
    [["a_z", "A_Z"], ["lower_plain", "upper_plain"], ["bad"]],
    [["bad"], SYMBOLS[1:]],
    [["lower_acc", "lower_plain", "box", "close", "currency", "numeric"], ["upper_acc"]],
    [["box", "close", "currency", "numeric"], ["lower_acc"]],
    [["lower_acc", "box", "close"], ["currency"]],
    [["space"], ["upper_acc"], ["currency"]],
    [["upper_acc", "box"], ["numeric", "law"]],
    [["lower_acc", "upper_acc", "box", "currency", "close"], ["open"], ["numeric"]],
    [["lower_acc", "upper_acc", "currency", "numeric", "box", "law"], ["close"], ["open"]],
    [["currency", "numeric", "box"], ["open"]],
    [["a_z"], ["upper_acc"], ["open", "currency"]],
    [["box"], ["face"]],
    [["lower_acc", "upper_acc", "currency", "numeric", "open", "close", "law"], ["box"]],
    [["box"], ["close"]],
    [["lower_acc", "upper_acc"], ["open", "close"], ["word"]],
    # the oe ligature before anything but an ASCII letter
    [["'\u0152\u0153'"], ["not_ascii_letter"]],
    [["upper_acc"], ["'\u00b0'"]],
    # two-character Windows-1252 mojibake the groups miss
    [["'\u00c2\u00c3\u00ce\u00d0'"],
     ["'\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7"
      "\u00bb\u2013\u2014\u00b4'", "open", "close"]],
    [["'\u00d7'"], ["'\u00b2\u00b3'"]],
    # Arabic through Windows-1252: four characters
    [["'\u00d8\u00d9'"], ["common", "currency", "bad", "numeric", "open",
                          "'\u0178\u0160\u00ae\u00b0\u00b5\u00bb'"]] * 2,
    # leads of three-byte South Asian letters
    [["'\u00e0'"], ["'\u00b2\u00b5\u00b9\u00bc\u00bd\u00be'"]],
    # MacRoman
    [["'\u221a'"], ["'\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8'"]],
    [["'\u2248'"], ["'\u00b0\u00a2'"]],
    [["'\u201a'"], ["'\u00c4'"], ["'\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0'"]],
    [["'\u201a'"], ["'\u00e2\u00f3'"], ["'\u00e0\u00e4\u00b0\u00ea'"]],
    # Windows-1251
    [["'\u0432'"], ["'\u0402'"]],
    [["'\u0412\u0413\u0420\u0421'"], ["c1", "bad", "open", "close", "currency", "'\u00b0\u00b5'"],
     ["'\u0412\u0413\u0420\u0421'"]],
    [["'\u0413'"], ["'\u045e'"], ["'\u0412'"], ["'\u0402'"], ["'\u0412'"], ["not_newline"],
     ["a_z", "A_Z", "' '"]],
    # a-grave, inverted exclamation and nbsp through Windows-1252
    [["'\u00c3'"], ["'\u00a0\u00a1'"]],
    [["a_z"], ["'\u00c3\u00c2'"], ["' '"]],
    [["a_z"], ["space"], ["'\u00c3\u00c2'"], ["' '"]],
    [["^", "'\u00c3\u00c2'"], ["' '"]],
    [["a_z", "'.,?!'", "close"], ["'\u00c2'"], ["' '", "open", "close"]],
    # Windows-1253
    [["'\u03b2'"], ["'\u20ac'"], ["'\u2122\u00a0\u0386\u00ad\u00ae\u00b0'"]],
    [["'\u0392\u0393\u039e\u039f'"], ["c1", "bad", "open", "close", "currency", "'\u00b0'"],
     ["'\u0392\u0393\u039e\u039f'"]],
    # Windows-1257
    [["'\u0101'"], ["'\u20ac'"]],
]
MAX_RULE = 7
DIRECT_LIMIT = 0x600  # entries below this are found by direct index
NFC_LIMIT = 0x3000


def compile_position(items):
    """Returns (frozenset of code points, frozenset of properties, anchored)."""
    cps, props, anchored = set(), set(), False
    for it in items:
        if it == "^":
            anchored = True
        elif it in PROPS:
            props.add(it)
        elif it.startswith("'"):
            cps |= lit(it[1:-1])
        else:
            cps |= GROUPS[it]
    return frozenset(cps), frozenset(props), anchored


def main():
    tables = [decode_table(n, s) for n, s in CODECS]
    strict_1252 = bytes(range(0x80, 0xA0)).decode("windows-1252", errors="replace")
    holes_1252 = sum(1 << i for i, ch in enumerate(strict_1252) if ch == "\ufffd")

    # clue classes: characters the bytes of a UTF-8 sequence become in the clue code pages
    def from_bytes(byte_values):
        out = set()
        for name in CLUE_CODECS:
            strict = bytes(range(256)).decode(name, errors="replace")
            for b in byte_values:
                if strict[b] != "\ufffd":
                    out.add(ord(strict[b]))
        return out

    lead2 = from_bytes(range(0xC2, 0xE0))
    lead3 = from_bytes(range(0xE0, 0xF0))
    lead4 = from_bytes([0xF0, 0xF3])  # the other four-byte leads only reach unassigned planes
    cont = from_bytes(range(0x80, 0xC0)) | set(range(0x80, 0xC0))
    # punctuation that often stands for itself next to mojibake: dashes, curly quotes except
    # the angle ones, bullet, ellipsis
    self_standing = {c for c in cont
                     if 0x2010 <= c <= 0x2015 or 0x2018 <= c <= 0x201F or c in (0x2022, 0x2026)}
    cont_strict = cont - self_standing
    cont_loose = cont | {0x20}  # a space may stand for a lost 0xA0

    # rule positions -> distinct sets -> bits
    sets = []
    rules_out = []
    for rule in RULES:
        if len(rule) > MAX_RULE:
            sys.exit("rule too long")
        pos_bits, anchored = [], False
        for k, items in enumerate(rule):
            key = compile_position(items)
            if key[2]:
                if k != 0:
                    sys.exit("^ only first")
                anchored = True
            key = (key[0], key[1])
            if key not in sets:
                sets.append(key)
            pos_bits.append(sets.index(key))
        rules_out.append((anchored, pos_bits))
    if len(sets) > 128:
        sys.exit("%d sets do not fit 128 bits" % len(sets))

    chars = set()
    for t in tables:
        chars.update(c for c in t if c >= 0x80)
    for s, _ in sets:
        chars |= s
    chars |= lead2 | lead3 | lead4 | cont_loose
    reverse = [{cp: b for b, cp in enumerate(t)} for t in tables]

    w = sys.stdout.write
    w("/* Generated by tools/gen_ftfy_tables.py; do not edit. */\n\n")
    w("#define FTFY_N_CODECS %d\n" % len(CODECS))
    w("#define FTFY_MAX_RULE %d\n" % MAX_RULE)
    w("/* Codecs in the order fix_encoding tries them. */\n")
    w("static const char *const ftfy_codec_names[FTFY_N_CODECS] = {\n")
    for n, s in CODECS:
        w('    "%s%s",\n' % ("sloppy-" if s else "", n))
    w("};\n")
    w("static const unsigned char ftfy_codec_sloppy[FTFY_N_CODECS] = {%s};\n"
      % ", ".join("1" if s else "0" for _, s in CODECS))
    w("/* Byte -> code point of each codec. */\n")
    w("static const uint16_t ftfy_codec_decode[FTFY_N_CODECS][256] = {\n")
    for (n, s), t in zip(CODECS, tables):
        w("    { /* %s */\n" % n)
        for i in range(0, 256, 8):
            w("        " + ", ".join("0x%04X" % c for c in t[i:i + 8]) + ",\n")
        w("    },\n")
    w("};\n")
    w("/* Bytes 0x80..0x9F that strict Windows-1252 leaves undefined (bit b - 0x80). */\n")
    w("#define FTFY_CP1252_HOLES 0x%08Xu\n\n" % holes_1252)

    w("/* UTF-8 clue classes of a character (ftfy_char.clue). */\n")
    w("#define FTFY_LEAD2 0x01u\n#define FTFY_LEAD3 0x02u\n#define FTFY_LEAD4 0x04u\n")
    w("#define FTFY_CONT 0x08u        /* continuation, or a space for a lost 0xA0 */\n")
    w("#define FTFY_CONT_STRICT 0x10u /* continuation that rarely stands for itself */\n\n")

    w("/* Badness rule sets: set k is bit k %% 64 of word k / 64. Characters with a run-time\n"
      " * property also belong to these sets. */\n")
    w("#define FTFY_N_SETS %d\n" % len(sets))
    for p in PROPS:
        bits = sum(1 << i for i, (_, props) in enumerate(sets) if p in props)
        w("#define FTFY_PROP_%s_LO 0x%016XULL\n" % (p.upper(), bits & (2**64 - 1)))
        w("#define FTFY_PROP_%s_HI 0x%016XULL\n" % (p.upper(), bits >> 64))
    w("\n/* Badness rules: the set of each position. */\n")
    w("typedef struct ftfy_rule {\n    unsigned char anchored, len;\n"
      "    unsigned char pos[FTFY_MAX_RULE];\n} ftfy_rule;\n")
    rules_out.sort(key=lambda r: r[1][0])
    w("static const ftfy_rule ftfy_rules[] = { /* sorted by the set of the first position */\n")
    for anchored, pos in rules_out:
        w("    {%d, %d, {%s}},\n" % (anchored, len(pos), ", ".join(str(b) for b in pos)))
    w("};\n")
    w("/* Rules whose first position is set k: ftfy_rules[first[k] .. first[k + 1]). */\n")
    starts = [sum(1 for r in rules_out if r[1][0] < k) for k in range(len(sets) + 1)]
    w("static const unsigned char ftfy_rules_first[FTFY_N_SETS + 1] = {\n")
    for i in range(0, len(starts), 16):
        w("    " + ", ".join(str(v) for v in starts[i:i + 16]) + ",\n")
    w("};\n\n")

    w("/* Every character ftfy's tables mention: clue bits, badness set bits (listed members\n"
      " * only) and its byte in each codec (0: not encodable; ASCII is implicit). Sorted. */\n")
    w("typedef struct ftfy_char {\n    uint32_t cp;\n    unsigned char clue;\n"
      "    unsigned char byte[FTFY_N_CODECS];\n    uint64_t sets[2];\n} ftfy_char;\n")
    w("static const ftfy_char ftfy_chars[] = {\n")
    ascii_rows = []
    for cp in sorted(chars):
        clue = ((1 if cp in lead2 else 0) | (2 if cp in lead3 else 0) | (4 if cp in lead4 else 0)
                | (8 if cp in cont_loose else 0) | (16 if cp in cont_strict else 0))
        bits = sum(1 << i for i, (s, _) in enumerate(sets) if cp in s)
        if cp < 0x80:
            ascii_rows.append((cp, clue, bits))
            continue
        enc = []
        for r in reverse:
            b = r.get(cp, 0)
            enc.append(b if b >= 0x80 or b == 0x1A else 0)
        w("    {0x%04X, 0x%02X, {%s}, {0x%XULL, 0x%XULL}},\n"
          % (cp, clue, ", ".join("0x%02X" % b for b in enc), bits & (2**64 - 1), bits >> 64))
    w("};\n\n")
    # direct index of the entries below DIRECT_LIMIT (entry + 1; 0 = none)
    rows = [cp for cp in sorted(chars) if cp >= 0x80]
    w("#define FTFY_DIRECT_LIMIT 0x%X\n" % DIRECT_LIMIT)
    w("static const uint16_t ftfy_direct[FTFY_DIRECT_LIMIT] = {\n")
    direct = [0] * DIRECT_LIMIT
    for k, cp in enumerate(rows):
        if cp < DIRECT_LIMIT:
            direct[cp] = k + 1
    for i in range(0, DIRECT_LIMIT, 16):
        w("    " + ", ".join(str(v) for v in direct[i:i + 16]) + ",\n")
    w("};\n\n")

    # characters NFC leaves alone in any sequence of such characters (Python's Unicode data)
    seconds = set()
    for c in range(0x110000):
        d = unicodedata.decomposition(chr(c))
        if d and not d.startswith("<") and len(d.split()) == 2:
            seconds.add(int(d.split()[1], 16))
    inert = [unicodedata.normalize("NFC", chr(c)) == chr(c) and unicodedata.combining(chr(c)) == 0
             and c not in seconds and not 0xD800 <= c <= 0xDFFF for c in range(NFC_LIMIT)]
    w("/* Bit c: code point c < FTFY_NFC_LIMIT is NFC-inert: NFC changes no text made of such\n"
      " * characters (its own NFC form, canonical class 0, never the second of a composition). */\n")
    w("#define FTFY_NFC_LIMIT 0x%X\n" % NFC_LIMIT)
    w("static const uint32_t ftfy_nfc_inert[FTFY_NFC_LIMIT / 32] = {\n")
    words = [sum(1 << b for b in range(32) if inert[i + b]) for i in range(0, NFC_LIMIT, 32)]
    for i in range(0, len(words), 8):
        w("    " + ", ".join("0x%08X" % v for v in words[i:i + 8]) + ",\n")
    w("};\n\n")

    w("/* ASCII: clue bits and badness set bits. */\n")
    w("static const unsigned char ftfy_ascii_clue[128] = {\n")
    clue_a = [0] * 128
    sets_a = [0] * 128
    for cp, clue, bits in ascii_rows:
        clue_a[cp] = clue
        sets_a[cp] = bits
    for i in range(0, 128, 16):
        w("    " + ", ".join(str(v) for v in clue_a[i:i + 16]) + ",\n")
    w("};\n")
    w("static const uint64_t ftfy_ascii_sets[128][2] = {\n")
    for i in range(0, 128, 2):
        w("    " + ", ".join("{0x%XULL, 0x%XULL}" % (v & (2**64 - 1), v >> 64)
                            for v in sets_a[i:i + 2]) + ",\n")
    w("};\n")


if __name__ == "__main__":
    main()
