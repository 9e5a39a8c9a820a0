#!/usr/bin/env python3
"""Regenerate the tokenizer fixtures from the Hugging Face `tokenizers` library.

Writes, next to this script:

  tokenizer_cases.json  tricky strings and seeded random strings, each with the
                        ids and tokens the reference tokenizer produces for it
                        (truncated to 256 tokens, no padding), plus a few long
                        texts encoded without truncation ("long_cases"),
  unicode_table.json    how the reference normalizer and pre-tokenizer treat
                        every Unicode scalar on its own (removed, turned into a
                        space, isolated as a CJK ideograph, rewritten, or split
                        off as punctuation; Hangul syllables sampled), and
  added_tokens_tokenizer.json
                        a tiny made-up WordPiece tokenizer whose added tokens
                        use single_word, lstrip and rstrip and whose
                        post-processor is BertProcessing (MiniLM's file uses
                        neither); its cases are in tokenizer_cases.json under
                        "added_token_cases".

Usage (Python 3, `pip install tokenizers==0.23.3`):

  python3 Fixtures/minilm/make_tokenizer_cases.py [MODEL_DIR]

MODEL_DIR defaults to $WEIGHTS_MODEL_DIR, else
${WEIGHTS_MODELS:-~/.cache/weights/models}/all-MiniLM-L6-v2, the same lookup
the Swift tests use. The Swift tests only read the JSON files; they never run
Python.
"""

import json
import os
import random
import sys
import unicodedata

import tokenizers
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
HERE = os.path.dirname(os.path.abspath(__file__))


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("WEIGHTS_MODEL_DIR"):
        return os.environ["WEIGHTS_MODEL_DIR"]
    root = os.environ.get("WEIGHTS_MODELS") or os.path.expanduser("~/.cache/weights/models")
    return os.path.join(root, "all-MiniLM-L6-v2")


# Hand-picked strings, each aimed at one rule or one known edge.
TRICKY = [
    ("empty", ""),
    ("only spaces", "   \t \n "),
    ("ascii sentence", "The quick brown fox jumps over the lazy dog."),
    ("emoji", "I love pizza 🍕🍕 and 😀!"),
    ("emoji zwj family", "family: 👨\u200d👩\u200d👧 ok"),
    ("flag and skin tone", "🇺🇸 👍🏽 thumbs"),
    ("newer emoji (Unicode 14)", "melting \U0001FAE0 face"),
    ("zero width joiner inside word", "ab\u200dcd"),
    ("zero width space and BOM", "zero\u200bwidth \ufeffbom"),
    ("soft hyphen", "hy\u00adphen"),
    ("replacement char", "bad \ufffd byte\ufffdhere"),
    ("nul and controls", "a\u0000b c\u0001d e\u007ff g\u0085h"),
    ("tabs newlines cr", "tab\there\nnew\r\nline\rcr"),
    ("vertical tab form feed", "v\u000bt f\u000cf"),
    ("unicode spaces", "nb\u00a0sp em\u2003sp ideo\u3000sp nnb\u202fsp line\u2028para\u2029end"),
    ("combining acute", "cafe\u0301 nai\u0308ve"),
    ("precomposed accents", "Café naïve résumé Ångström façade"),
    ("stacked combining marks", "a\u0301\u0302\u0303\u0304b"),
    ("lone combining mark", "\u0301 x \u0301"),
    ("spacing mark (Mc) kept", "\u0915\u093e \u0915\u093f"),
    ("enclosing mark (Me) kept", "x\u20dd y"),
    ("uppercase", "HELLO WORLD ÀÉÎÕÜ"),
    ("dotted capital I", "İstanbul"),
    ("greek sigma", "ΣΊΣΥΦΟΣ σοφός"),
    ("german sharp s", "Straße STRASSE ẞ"),
    ("ligatures", "ﬁne ﬂow ﬃ"),
    ("cjk", "東京は日本の首都です。"),
    ("cjk mixed with latin", "abc中文def汉字ghi"),
    ("cjk extension B", "\U00020000\U00020001x"),
    ("cjk compatibility ideograph", "a\uf900b\ufa0ec"),
    ("outside BERT CJK ranges", "a\U0002B820b a\U00031350b"),
    ("hiragana katakana", "ひらがな カタカナ"),
    ("hangul", "한국어 텍스트"),
    ("arabic", "مرحبا بالعالم"),
    ("hebrew with points", "שָׁלוֹם"),
    ("devanagari", "नमस्ते दुनिया"),
    ("thai", "สวัสดีชาวโลก"),
    ("cyrillic", "Привет, мир!"),
    ("mixed scripts", "Hello Мир 世界 عالم שלום"),
    ("ascii punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    ("unicode punctuation", "¿Qué? ¡Sí! «quoted» “curly” ‘single’ — dash – en … ellipsis"),
    ("symbols not punctuation", "€100 ±5 ©2024 ® ™ ° § ¶ √ ∞"),
    ("newer punctuation", "a\u2e5db a\u061db"),
    ("apostrophes", "don't won’t y'all"),
    ("numbers", "3.14159 2,718 1e-12 0x1F -42 ½ ² ٣"),
    ("urls and emails", "https://example.org/a?b=c&d=e#f someone@example.com"),
    ("hashes", "#hashtag ##double a##b"),
    ("continuation pieces", "unbelievably antidisestablishmentarianism tokenization"),
    ("unknown char in word", "abc\u2603def"),
    ("word of 100 chars", "a" * 100),
    ("word of 101 chars", "a" * 101),
    ("word of 100 chars after accent stripping", "e\u0301" * 60),
    ("word of 99 chars plus accented", "a" * 99 + "é"),
    ("long word between others", "x " + "b" * 120 + " y"),
    ("literal [SEP]", "first [SEP] second"),
    ("all literal specials", "[CLS] [SEP] [MASK] [PAD] [UNK]"),
    ("glued [MASK]", "a[MASK]b"),
    ("glued specials", "x[CLS][SEP]y[PAD]z"),
    ("lowercase special not special", "[mask] [sep] [Mask]"),
    ("broken special", "[MASK [ MASK] MASK] [[MASK]]"),
    ("special with accents around", "é[MASK]é"),
    ("special after control char", "\u0000[SEP]\u0000"),
    ("private use", "a\ue000b \U000f0000c"),
    ("unassigned", "a\u0378b"),
    ("tag characters", "x\U000e0001\U000e0041y"),
    ("arabic format char", "\u0600\u06dd1"),
    ("egyptian format controls (Unicode 12)", "a\U00013430b"),
    ("math alphanumerics", "𝐀𝐁𝐂 𝒶𝒷𝒸"),
    ("fullwidth", "ＡＢＣ！１２３"),
    ("long text truncated", " ".join(["tokenization"] * 200)),
    ("punctuation run truncated", "!" * 300),
]


def random_strings(count, seed):
    """Seeded strings mixing ASCII, accents, CJK, punctuation, marks, controls."""
    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "      \t\n",
        ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`",
        "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÉÎÕÜßæøœ",
        "\u0300\u0301\u0302\u0308\u0327\u093e\u20dd",
        "\u0000\u0001\u001f\u007f\u0085\u00ad\u200b\u200d\ufeff\ufffd\ue000",
        "東京日本首都中文汉字世界ひらがなカタカナ한국어",
        "αβγδΣσςΑΩабвгдЖЯ",
        "¿¡«»“”‘’—–…·•",
        "😀🍕👍🏽🇺🇸\U0001FAE0",
    ]
    words = ["the", "model", "weights", "token", "##", "[MASK]", "[SEP]", "[CLS]", "[PAD]", "[UNK]",
             "[mask]", "running", "unbelievable", "safetensors", "quantization"]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 40)):
            if rng.random() < 0.25:
                parts.append(rng.choice(words))
            else:
                pool = rng.choice(pools)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        out.append("".join(parts))
    return out


# The 11,172 precomposed Hangul syllables decompose algorithmically; listing
# every one would quadruple the file, so only every 64th is recorded.
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def ranges(code_points):
    result = []
    for cp in code_points:
        if result and result[-1][1] == cp - 1:
            result[-1][1] = cp
        else:
            result.append([cp, cp])
    return result


def unicode_table(tok):
    normalizer = tok.normalizer
    pre_tokenizer = tok.pre_tokenizer
    removed, whitespace, isolated, punctuation, mapped = [], [], [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        out = normalizer.normalize_str(c)
        if out == "":
            removed.append(cp)
        elif out == " ":
            whitespace.append(cp)
        elif out == " " + c + " ":
            isolated.append(cp)
        elif out != c and not (HANGUL_FIRST <= cp <= HANGUL_LAST and cp % 64):
            mapped.append([cp, out])
        if len(pre_tokenizer.pre_tokenize_str("a" + c + "b")) == 3:
            punctuation.append(cp)
    return {
        "removed": ranges(removed),
        "whitespace": ranges(whitespace),
        "isolated": ranges(isolated),
        "punctuation": ranges(punctuation),
        "mapped": mapped,
        "sampled": [[HANGUL_FIRST, HANGUL_LAST]],
    }


def added_tokens_tokenizer():
    """A small tokenizer for the single_word / lstrip / rstrip rules."""
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "x", "y", "w", "l", "r",
              "<", ">", "hello", "world", "##b", "##c", "##y", "##w", "##l", "##r", "##lo", "1", "_"]
    vocab = {piece: i for i, piece in enumerate(pieces)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=8))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tok.add_special_tokens([AddedToken(t, normalized=False) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]])
    tok.add_tokens([
        AddedToken("<W>", single_word=True, normalized=False),
        AddedToken("<L>", lstrip=True, normalized=False),
        AddedToken("<R>", rstrip=True, normalized=False),
        AddedToken("<LR>", lstrip=True, rstrip=True, normalized=False),
        AddedToken("<WL>", single_word=True, lstrip=True, normalized=False),
    ])
    texts = [
        "a <W> b", "a<W>b", "a <W>b", "a<W> b", "<W>", "<W><W>", "1<W>", "_<W>", "é<W>", "a\u0301<W>",
        "(<W>)", "a <L> b", "a<L>b", "a   <L>", "<L><L>", "a <R> b", "a<R>b", "<R>   b", "<R><R>",
        "a <LR> b", "<LR><LR>", "x <WL> y", "x<WL> y", "<WL>", "<WLX>", "<<W>>", "hello<MASK>world",
        "a [MASK] b<R>[SEP]", "aaaaaaaa bbbbbbbbb", "hellohello", "ab abc abx", "<w> <l> <r>", "",
    ]
    cases = []
    for text in texts:
        encoding = tok.encode(text)
        cases.append({"name": text, "text": text, "ids": encoding.ids, "tokens": encoding.tokens})
    return tok, cases


def write_one_case_per_line(f, header, sections):
    """JSON with one case per line, so that diffs stay readable."""
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in header.items()]
    for name, items in sections.items():
        body = ",\n".join("  " + json.dumps(item, ensure_ascii=True) for item in items)
        lines.append(f" {json.dumps(name)}: [\n{body}\n ]")
    f.write("{\n" + ",\n".join(lines) + "\n}\n")


def main():
    directory = model_dir()
    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LENGTH)

    cases = [{"name": name, "text": text} for name, text in TRICKY]
    cases += [{"name": f"random {i}", "text": text} for i, text in enumerate(random_strings(200, seed=20240607))]
    for case in cases:
        encoding = tok.encode(case["text"])
        case["ids"] = encoding.ids
        case["tokens"] = encoding.tokens

    # Long texts without truncation: the Swift tokenizer normalizes long
    # texts in chunks, so these cross many chunk boundaries. Vertical tab,
    # form feed and U+0085 are whitespace that cleaning removes, so they must
    # not end a chunk.
    tok.no_truncation()
    rng = random.Random(7)
    long_cases = []
    for i, text in enumerate(random_strings(40, seed=99)):
        pieces = []
        while sum(map(len, pieces)) < 6000:
            pieces.append(text if rng.random() < 0.5 else rng.choice(["\u000b", "\u000c", "\u0085", " ", "cafe\u0301", "x" * 150]))
        long_text = "".join(pieces)
        encoding = tok.encode(long_text)
        long_cases.append({"name": f"long {i}", "text": long_text, "ids": encoding.ids})
        if len(long_cases) == 3:
            break

    small, added_cases = added_tokens_tokenizer()
    small.save(os.path.join(HERE, "added_tokens_tokenizer.json"))

    provenance = {
        "tokenizers_version": tokenizers.__version__,
        "python_unicodedata_version": unicodedata.unidata_version,
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "tokenizer_json": "tokenizer.json from the model directory",
        "max_length": MAX_LENGTH,
        "generator": "Fixtures/minilm/make_tokenizer_cases.py",
    }
    with open(os.path.join(HERE, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        write_one_case_per_line(f, provenance, {"cases": cases, "long_cases": long_cases, "added_token_cases": added_cases})
    with open(os.path.join(HERE, "unicode_table.json"), "w", encoding="utf-8") as f:
        json.dump({**provenance, **unicode_table(tok)}, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases with tokenizers {tokenizers.__version__}")


if __name__ == "__main__":
    main()
