"""Finding the final answer in a completion, and normalising it, for the string verifiers.

(The `math` verifier uses Math-Verify's own extraction instead: leash.grading.math.)
The answer is whichever comes last of the last `\\boxed{...}` (or `\\fbox{...}`, braces
matched) and the last "final answer is ..." / "answer: ..." sentence — so an explicit
closing sentence beats an earlier box; Minerva's "Final Answer: The final answer is
$X$. I hope it is correct." gives X. Else the last `<answer>...</answer>`. Text before
a closing `</think>` is ignored when one is present, so scratch work never supplies it.
"""

from __future__ import annotations

import re

__all__ = ["after_think", "extract_boxed", "extract_final_answer", "extract_tag", "normalise_answer"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL = re.compile(
    r"(?:final answer|the answer)\s*(?:is|:)\s*[:=]?\s*(?P<ans>.+?)(?:\.\s|\.?$|\n)", re.IGNORECASE
)
_ANSWER_LINE = re.compile(r"^\s*answer\s*:\s*(?P<ans>.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def after_think(text: str) -> str:
    """The text after the last `</think>`, or the whole text when there is none."""
    cut = text.rfind("</think>")
    return text[cut + len("</think>") :] if cut >= 0 else text


def extract_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} with nested braces matched; None if unclosed or absent."""
    found = _last_boxed(text)
    return None if found is None else found[0]


def _last_boxed(text: str) -> tuple[str, int] | None:
    """(content, end position) of the last closed \\boxed{...}."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth, i = 1, start
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        if depth == 0:
            return text[start : i - 1], i
    return None


def extract_tag(text: str, tag: str = "answer") -> str | None:
    """Content of the last <tag>...</tag>."""
    end = text.rfind(f"</{tag}>")
    if end < 0:
        return None
    start = text.rfind(f"<{tag}>", 0, end)
    return None if start < 0 else text[start + len(tag) + 2 : end]


_RESTATED = re.compile(r"(?:the )?final answer\s*(?:is|:)\s*[:=]?\s*", re.IGNORECASE)
_HOPE = re.compile(r"\.?\s*I hope it is correct\.?\s*$")


def extract_final_answer(text: str) -> str | None:
    """The final answer of a completion as written (not normalised), or None."""
    text = after_think(text)
    boxed = _last_boxed(text)
    finals = list(_FINAL.finditer(text)) or list(_ANSWER_LINE.finditer(text))
    if finals and (boxed is None or finals[-1].start() >= boxed[1]):
        answer = finals[-1].group("ans")
        while (m := _RESTATED.match(answer)) and m.end() < len(
            answer
        ):  # "Final Answer: The final answer is X"
            answer = answer[m.end() :]
        return _HOPE.sub("", answer)
    if boxed is not None:
        return boxed[0]
    return extract_tag(text)


_THOUSANDS = re.compile(r"(\d)(?:\{,\}|,\\!\s*)(?=\d{3})(\d)")
_STRIP = [r"\left", r"\right", r"\!", r"\,", r"\;", r"\:", r"\displaystyle", r"\dfrac", r"\tfrac"]


def normalise_answer(answer: str) -> str:
    """A light canonical form for caching and display: spacing, $, trailing dot, \\left/\\right.

    Equivalence is Math-Verify's job; this only merges spellings of the same string.
    """
    s = answer.strip().rstrip(".").strip()
    s = s.strip("$").strip()
    s = _THOUSANDS.sub(r"\1\2", s)  # LaTeX thousands separators: 14{,}916, 32,\! 349
    if s.startswith("\\(") and s.endswith("\\)"):
        s = s[2:-2]
    for token in _STRIP:
        s = s.replace(token, r"\frac" if token in (r"\dfrac", r"\tfrac") else "")
    s = re.sub(r"\s+", " ", s).strip()
    s = s.rstrip(".").strip()
    if s.startswith("\\text{") and s.endswith("}") and s.count("{") == 1:
        s = s[6:-1].strip()
    return s
