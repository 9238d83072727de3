"""Write the small synthetic example that `leash demo` imports (until the lab replaces it).

It is *synthetic*: no model wrote it. Each of 64 Countdown-style problems (reach a
target from three numbers) has up to three correct expressions (solution modes)
and several wrong ones. The "base" samples modes at their base rates; the
"tuned" samples mimic what RLVR is reported to do: mass moves to the base's most
frequent correct mode, rare modes fade, a few problems gain a mode. The point is
to exercise the pipeline on data with a known shape, not to show a result.

    python scripts/make_example.py   # rewrites src/leash/examples/*.jsonl.gz
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

N_PROBLEMS = 64
N_SAMPLES = 128
OUT = Path(__file__).resolve().parents[1] / "src" / "leash" / "examples"


def problem(rng: np.random.Generator) -> tuple[list[int], int, list[str], list[str]]:
    a, b, c = (int(x) for x in rng.integers(2, 13, size=3))
    target = a * b + c
    correct = [f"{a}*{b}+{c}", f"{c}+{b}*{a}", f"({a}*{b})+{c}"]
    wrong = [f"{a}+{b}+{c}", f"{a}*{b}-{c}", f"{a}*({b}+{c})", f"{a}*{b}", f"{b}*{c}+{a}"]
    # A wrong template can hit the target by chance: keep only those that miss.
    values = [a + b + c, a * b - c, a * (b + c), a * b, b * c + a]
    wrong = [w for w, v in zip(wrong, values, strict=True) if v != target]
    return [a, b, c], target, correct, wrong


def rates(rng: np.random.Generator, n_correct: int) -> tuple[np.ndarray, np.ndarray]:
    """Base and tuned probabilities of each correct mode (the rest goes to wrong answers)."""
    difficulty = rng.choice(["easy", "medium", "hard", "rare", "unreached"], p=[0.2, 0.3, 0.2, 0.2, 0.1])
    base_total = {"easy": 0.5, "medium": 0.15, "hard": 0.04, "rare": 0.012, "unreached": 0.0}[difficulty]
    split = rng.dirichlet(np.ones(n_correct) * 0.7)
    base = base_total * split
    tuned = np.zeros_like(base)
    top = int(np.argmax(base))
    if difficulty in ("easy", "medium"):
        tuned[top] = min(0.95, base_total * 1.8)  # sharpened onto the dominant mode
    elif difficulty == "hard":
        tuned[top] = base[top] * 1.5
    elif difficulty == "rare":
        tuned[top] = base[top] * 0.15  # rare solutions fade under RL
    elif rng.random() < 0.3:
        tuned[top] = 0.02  # a problem the base never reached: expansion
    return base, tuned


def write(path: Path, rows: list[dict]) -> None:
    # mtime=0 keeps the file byte-identical from one regeneration to the next.
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in rows).encode())


def main() -> None:
    rng = np.random.default_rng(2025)
    runs: dict[str, list[dict]] = {"base": [], "tuned": []}
    for i in range(N_PROBLEMS):
        numbers, target, correct, wrong = problem(rng)
        n_correct = int(rng.integers(1, len(correct) + 1))
        base, tuned = rates(rng, n_correct)
        for name, p_correct in (("base", base), ("tuned", tuned)):
            wrong_mass = 1.0 - p_correct.sum()
            wrong_p = rng.dirichlet(np.ones(len(wrong)) * (2.0 if name == "base" else 0.3)) * wrong_mass
            choices = correct[:n_correct] + wrong + [None]
            # 5% of the wrong mass (base) or 2% (tuned) gives no answer at all.
            silent = wrong_mass * (0.05 if name == "base" else 0.02)
            probs = np.r_[p_correct, wrong_p * (1 - silent / max(wrong_mass, 1e-12)), silent]
            picks = rng.choice(len(choices), size=N_SAMPLES, p=probs / probs.sum())
            for j in picks:
                answer = choices[j]
                text = f"Numbers {numbers}, target {target}. " + (
                    f"Try {answer}. Answer: {answer}" if answer else "I could not find it."
                )
                runs[name].append(
                    {
                        "task_id": f"countdown/{i:03d}",
                        "dataset": "countdown",
                        "completion": text,
                        "answer": answer,
                        "correct": bool(j < n_correct),
                    }
                )
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in runs.items():
        write(OUT / f"{name}.jsonl.gz", rows)
        print(f"wrote {OUT / f'{name}.jsonl.gz'}: {len(rows)} samples")


if __name__ == "__main__":
    main()
