"""Parse a pasted village rule text into title, preamble, chapters, articles and closing.

Pure functions, no database: the import preview, the command line and the tests share them.

Real texts (docs/architecture.md, "Village rules") come as 第一章 … 第一条 … or as a bare numbered list (一、二、 or 1. 2.),
with sub-items （一） 1. ① inside articles, full-width digits and punctuation, OCR typos and stray
characters. The parser never changes a character of the text it keeps: an article's text is its lines
as written (only the whitespace around each line is dropped), and the raw text is stored beside the
parse. What it could not place cleanly it reports as a warning for the clerk to look at.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN = "零〇○一二两三四五六七八九十百千"
_NUM = rf"[0-9０-９]{{1,4}}|[{_CN}]{{1,8}}"
FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")

#: 第X章 / 第X节 headings: short lines, the title follows the number
RE_CHAPTER = re.compile(rf"^第\s*({_NUM})\s*章(?:\s*(.*))?$")
RE_SECTION = re.compile(rf"^第\s*({_NUM})\s*节(?:\s*(.*))?$")
#: 第X条 (条 or the traditional 條) at the start of a line
RE_ARTICLE = re.compile(rf"^(第\s*({_NUM})\s*[条條])(.*)$", re.S)
#: 一、 / 十二． at the start of a line
RE_CN_ITEM = re.compile(rf"^([{_CN}]{{1,6}})\s*([、．.])(.*)$", re.S)
#: 1. / 1、 / １． at the start of a line (not a decimal such as 1.5 or a date such as 2024.3.1)
RE_AR_ITEM = re.compile(r"^([0-9０-９]{1,3})\s*([.．、])(?![0-9０-９])(.*)$", re.S)
#: （一） / (1) at the start of a line: articles of a text numbered only this way, else sub-items
RE_PAREN_ITEM = re.compile(rf"^[（(]\s*({_NUM})\s*[）)](.*)$", re.S)
#: sub-items: （一） (1) ① — kept inside the article's text
RE_SUB_ITEM = re.compile(rf"^(?:[（(]\s*(?:{_NUM})\s*[）)]|[①-⑳㉑-㉟])")
#: words that show a line starting with 第X条 is a wrapped reference, not a new article
RE_REFERENCE_TAIL = re.compile(r"^(?:规定|所|的|之|至|中|和|或|及|、|，|,|第|款|项|以)")
#: an unnumbered line after the last article that belongs to the closing
RE_CLOSING = re.compile(
    r"(施行|执行|实施|生效|通过|解释|废止|村民委员会|村委会|村民会议|代表会议|"
    r"[0-9０-９〇○零一二三四五六七八九]{4}\s*年|[0-9０-９]{4}\s*[-./．]\s*[0-9０-９]{1,2})")
#: lines that can only open a closing: 本规约自…施行, a date, a signature, a parenthesised note
RE_CLOSING_START = re.compile(
    r"^(本.{0,12}(规约|章程|办法|公约|制度|民约).{0,30}(施行|执行|实施|生效|通过|解释)"
    r"|[0-9０-９〇○零一二三四五六七八九]{4}\s*年|.{0,24}(村民委员会|村委会)$|[（(].{0,40}(通过|施行)[）)]$)")
#: characters worth pointing out to the clerk (kept in the text all the same)
_ODD_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs"}


@dataclass
class ParseWarning:
    """Something the clerk should look at; the text is kept as written all the same."""

    kind: str  #: odd_chars, jump, empty_chapter, long_heading
    line: int
    detail: str = ""

    def __str__(self) -> str:
        return {"odd_chars": f"line {self.line}: unusual character(s) {self.detail} kept as written",
                "jump": f"line {self.line}: numbering jumps to {self.detail} (kept as written)",
                "empty_chapter": f"line {self.line}: {self.detail} has no articles",
                "long_heading": f"line {self.line}: text between {self.detail} and its first article was taken "
                                "as the heading"}.get(self.kind, self.detail)


class ParseError(ValueError):
    """The text holds no article the parser can recognise (or nothing at all)."""


def cn_number(raw: str) -> int | None:
    """Turn 十二 / 一百零五 / 两 / 12 / １２ into an int; None if it is not a number."""
    s = raw.strip().translate(FULLWIDTH)
    if not s:
        return None
    if s.isdigit() and s.isascii():
        return int(s)
    if all(ch in CN_DIGITS for ch in s):  # 二〇二四: digit by digit
        return int("".join(str(CN_DIGITS[ch]) for ch in s))
    total, current = 0, 0
    for ch in s:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        elif ch in CN_UNITS:
            total += (current or 1) * CN_UNITS[ch]
            current = 0
        else:
            return None
    return total + current


@dataclass
class ParsedArticle:
    label: str  #: the numbering as written: 第十二条, 12., 十二、
    number: int | None
    text: str
    chapter: int | None = None  #: index into ParsedText.chapters (the innermost heading)
    line: int = 0  #: 1-based line of the label in the source

    @property
    def sub_items(self) -> int:
        return sum(1 for ln in self.text.split("\n") if RE_SUB_ITEM.match(ln) or _AR_OR_CN_SUB.match(ln))


_AR_OR_CN_SUB = re.compile(rf"^(?:[0-9０-９]{{1,3}}\s*[.．、](?![0-9０-９])|[{_CN}]{{1,4}}、)")


@dataclass
class ParsedChapter:
    label: str  #: 第一章 / 第一节 / 一、
    title: str
    level: int = 1  #: 1 chapter, 2 section
    parent: int | None = None  #: index of the chapter a section belongs to
    line: int = 0


@dataclass
class ParsedText:
    title: str = ""
    preamble: str = ""
    closing: str = ""
    chapters: list[ParsedChapter] = field(default_factory=list)
    articles: list[ParsedArticle] = field(default_factory=list)
    #: which numbering the articles use: article (第X条), cn_list (一、), ar_list (1.), paren_list (（一）)
    style: str = ""
    warnings: list[ParseWarning] = field(default_factory=list)

    def articles_in(self, chapter_index: int) -> list[ParsedArticle]:
        """Articles of a chapter, including those in its sections."""
        inside = {chapter_index} | {i for i, c in enumerate(self.chapters) if c.parent == chapter_index}
        return [a for a in self.articles if a.chapter in inside]

    def sequence(self) -> list[tuple[str, ParsedChapter | ParsedArticle]]:
        """Headings and articles in the order of the text, for showing the structure."""
        items = [("chapter", c) for c in self.chapters] + [("article", a) for a in self.articles]
        return sorted(items, key=lambda kv: kv[1].line)

    def outline(self) -> list[str]:
        """The lines `flask rules import --dry-run` prints."""
        out = [f"title: {self.title or '-'}", f"numbering: {self.style}",
               f"preamble: {'yes' if self.preamble else 'no'}"]
        loose = [a for a in self.articles if a.chapter is None]
        if loose and self.chapters:
            out.append(f"  (before the first chapter): {len(loose)} articles")
        for i, c in enumerate(self.chapters):
            indent = "  " if c.level == 1 else "    "
            out.append(f"{indent}{c.label} {c.title}: {len(self.articles_in(i))} articles")
        out.append(f"chapters: {sum(1 for c in self.chapters if c.level == 1)}")
        out.append(f"articles: {len(self.articles)}")
        out.append(f"closing: {'yes' if self.closing else 'no'}")
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def _heading_like(rest: str) -> bool:
    rest = rest.strip()
    return 0 < len(rest) <= 24 and rest[-1] not in "。；;，,：:！!？?"


def _odd_characters(lines: list[str]) -> list[ParseWarning]:
    out = []
    for n, line in enumerate(lines, 1):
        odd = sorted({ch for ch in line if ch != "\t" and unicodedata.category(ch) in _ODD_CATEGORIES
                      or ch == "\ufffd"})
        if odd:
            codes = ", ".join(f"U+{ord(ch):04X}" for ch in odd[:5])
            out.append(ParseWarning("odd_chars", n, codes))
    return out[:20]


def parse_rules(text: str) -> ParsedText:
    """Parse a rule text; raise ParseError when no article can be found."""
    if text is None or not text.strip():
        raise ParseError("the text is empty")
    if "\x00" in text:
        raise ParseError("the text contains a NUL character (is it really a text file?)")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stripped = [ln.strip(" \t\u3000\u00a0\ufeff") for ln in lines]
    result = ParsedText(warnings=_odd_characters(lines))

    has_article = any(_article_header(s, None) for s in stripped)
    cn_items = [i for i, s in enumerate(stripped) if RE_CN_ITEM.match(s)]
    ar_items = [i for i, s in enumerate(stripped) if RE_AR_ITEM.match(s)]
    cn_as_headings = False
    if has_article:
        style = "article"
    elif cn_items and ar_items and ar_items[0] > cn_items[0] and all(
            _heading_like(RE_CN_ITEM.match(stripped[i]).group(3)) for i in cn_items):
        # 一、加分项目 / 1．… / 2．… : the 一、 lines are group headings, the 1. lines the articles
        style, cn_as_headings = "ar_list", True
    elif cn_items:
        style = "cn_list"
    elif ar_items:
        style = "ar_list"
    elif any(RE_PAREN_ITEM.match(s) for s in stripped):
        style = "paren_list"  # a short text numbered only （一）（二）
    else:
        raise ParseError("no article found: expected 第一条, 一、 or 1. at the start of a line")
    result.style = style

    chapter: int | None = None
    current: ParsedArticle | None = None
    body: list[str] = []
    head: list[tuple[int, str]] = []  # lines before the first heading or article
    expected_next = None

    def finish() -> None:
        nonlocal current
        if current is not None:
            current.text = _join(body)
            result.articles.append(current)
            body.clear()
            current = None

    for idx, s in enumerate(stripped):
        n = idx + 1
        m_ch = RE_CHAPTER.match(s)
        m_sec = RE_SECTION.match(s)
        if m_ch and _chapter_title_ok(m_ch.group(2)):
            finish()
            result.chapters.append(ParsedChapter(_label(s, "章"), (m_ch.group(2) or "").strip(), 1, None, n))
            chapter = len(result.chapters) - 1
            expected_next = None if style != "article" else expected_next
            continue
        if m_sec and _chapter_title_ok(m_sec.group(2)):
            finish()
            parent = _top_chapter(result.chapters, chapter)
            result.chapters.append(ParsedChapter(_label(s, "节"), (m_sec.group(2) or "").strip(), 2, parent, n))
            chapter = len(result.chapters) - 1
            continue
        if cn_as_headings and RE_CN_ITEM.match(s):
            finish()
            m = RE_CN_ITEM.match(s)
            result.chapters.append(ParsedChapter(m.group(1) + m.group(2), m.group(3).strip(), 1, None, n))
            chapter = len(result.chapters) - 1
            expected_next = None
            continue
        header = _item_header(s, style, expected_next)
        if header is not None:
            label, number, rest = header
            if expected_next is not None and number is not None and number != expected_next:
                if not (style != "article" and number == 1 and current is not None
                        and current.chapter != chapter):
                    result.warnings.append(ParseWarning("jump", n, label))
            finish()
            current = ParsedArticle(label=label, number=number, text="", chapter=chapter, line=n)
            if rest:
                body.append(rest)
            expected_next = (number + 1) if number is not None else None
            continue
        if current is None and chapter is not None:
            # a line between a heading and its first article: the heading's title on a line of its own
            if s:
                c = result.chapters[chapter]
                c.title = f"{c.title} {s}".strip()
                if len(c.title) > 30:
                    result.warnings.append(ParseWarning("long_heading", n, c.label))
            continue
        if current is None:
            if s:
                head.append((n, s))
            elif head and head[-1][1]:
                head.append((n, ""))
            continue
        body.append(s)
    # the closing: unnumbered lines at the very end that read like adoption / effect / signature lines
    if current is not None:
        cut = len(body)
        while cut > 1 and (not body[cut - 1] or (RE_CLOSING.search(body[cut - 1]) and len(body[cut - 1]) <= 80
                                                 and not RE_SUB_ITEM.match(body[cut - 1]))):
            cut -= 1  # never the article's own first line
        while cut < len(body) and not body[cut]:
            cut += 1
        # a blank line before it, or a line that can only be a closing, tells it from the article
        if cut < len(body) and (not body[cut - 1] or RE_CLOSING_START.match(body[cut])):
            result.closing = _join(body[cut:])
            del body[cut:]
        finish()
    # the title and preamble: lines before the first heading or article
    head_lines = [s for _, s in head]
    while head_lines and not head_lines[-1]:
        head_lines.pop()
    if head_lines and _title_like(head_lines[0]):
        result.title = head_lines.pop(0)
    result.preamble = _join(head_lines)
    if not result.articles:
        raise ParseError("no article found: expected 第一条, 一、 or 1. at the start of a line")
    for i, c in enumerate(result.chapters):
        if c.level == 1 and not result.articles_in(i):
            result.warnings.append(ParseWarning("empty_chapter", c.line, f"{c.label} {c.title}"))
    return result


def _join(lines: list[str]) -> str:
    """Lines of one part, as written; blank lines at either end dropped, runs of blanks kept as one."""
    out: list[str] = []
    for ln in lines:
        if not ln and (not out or not out[-1]):
            continue
        out.append(ln)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _label(s: str, unit: str) -> str:
    return s[: s.index(unit) + 1]  # as written, spaces inside (第 一 章) included


def _chapter_title_ok(title: str | None) -> bool:
    t = (title or "").strip()
    return len(t) <= 30 and not t.endswith(("。", "；", ";", "，", ","))


def _top_chapter(chapters: list[ParsedChapter], idx: int | None) -> int | None:
    if idx is None:
        return None
    return chapters[idx].parent if chapters[idx].level == 2 else idx


def _title_like(s: str) -> bool:
    return 0 < len(s) <= 40 and s[-1] not in "。；;，,：:" and not RE_SUB_ITEM.match(s)


def _article_header(s: str, expected: int | None) -> tuple[str, int | None, str] | None:
    m = RE_ARTICLE.match(s)
    if not m:
        return None
    label, number, rest = m.group(1), cn_number(m.group(2)), m.group(3)
    if rest and not rest[0].isspace() and rest[0] not in "：:、．.　":
        # "第五条规定的…" at the start of a wrapped line is a reference: a label run straight into
        # its text counts only when it does not read like one and is the number expected next
        if RE_REFERENCE_TAIL.match(rest) or (expected is not None and number != expected):
            return None
    return label, number, rest.lstrip(" \t\u3000：:、．.")


def _item_header(s: str, style: str, expected: int | None) -> tuple[str, int | None, str] | None:
    if style == "article":
        return _article_header(s, expected)
    if style == "paren_list":
        m = RE_PAREN_ITEM.match(s)
        if not m:
            return None
        label = s[: len(s) - len(m.group(2))]
        return label, cn_number(m.group(1)), m.group(2).strip(" \t\u3000")
    m = (RE_CN_ITEM if style == "cn_list" else RE_AR_ITEM).match(s)
    if not m:
        return None
    number = cn_number(m.group(1))
    return m.group(1) + m.group(2), number, m.group(3).strip(" \t\u3000")
