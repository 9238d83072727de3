r"""The public answer formats of lm-eval's `minerva_math` and of DeepSeek-R1 / Qwen2.5-Math, as cases.

Rows are (gold, completion, expected), written for leash.

MINERVA: lm-eval's `minerva_math` prompt is the 4-shot prompt of Lewkowycz et al. (2022):
each solution ends in `\boxed{...}` and then the line `Final Answer: The final answer is
$X$. I hope it is correct.`, and lm-eval grades the X of that line. The first four rows are
the answers of those four shots (domain $[2,5)$, $\det(AB) = 24$, Terrell's $16$ lifts,
$a/b = -\frac{2}{3}$) in solutions of our own wording; the rest are the forms that
format takes in model output (a thousands separator `14{,}916`, units, a final line that
overrides an earlier box, a missing "I hope it is correct.").

DEEPSEEK_QWEN: DeepSeek-R1 and its distills think inside `<think>...</think>` and then
answer, by the prompt "Please reason step by step, and put your final answer within
\boxed{}." (also Qwen2.5-Math's chat prompt); Qwen2.5-Math writes `\(\boxed{X}\)` or
`\[\boxed{X}\]`, often after "Therefore, the final answer is". Text before `</think>` is
scratch work: an answer there does not count (the last two rows).
"""

MINERVA: list[tuple[str, str, bool]] = [
    (
        "$[2,5)$",
        "Both radicands must be non-negative, so $x \\ge 2$ and $x \\le 5$; the denominator is not zero, so $x < 5$. The domain is $\\boxed{[2,5)}$.\nFinal Answer: The final answer is $[2,5)$. I hope it is correct.",
        True,
    ),
    (
        "$24$",
        "Determinants multiply: $\\det (\\mathbf{A} \\mathbf{B}) = (2)(12) = \\boxed{24}.$\nFinal Answer: The final answer is $24$. I hope it is correct.",
        True,
    ),
    (
        "$16$",
        "He lifts $2\\cdot 12\\cdot 20=480$ pounds in all. With the lighter weights,\n\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}\nFinal Answer: The final answer is $16$. I hope it is correct.",
        True,
    ),
    (
        "$-\\frac{2}{3}$",
        "Multiplying the first equation by $-\\frac{3}{2}$ gives\n\n$$6y-9x=-\\frac{3}{2}a,$$so $$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\nFinal Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct.",
        True,
    ),
    (
        "$[2,5)$",
        "The radicands must be non-negative, so the domain is $\\boxed{[2,5]}$.\nFinal Answer: The final answer is $[2,5]$. I hope it is correct.",
        False,
    ),
    (
        "$-\\frac{2}{3}$",
        "So $\\frac{a}{b}=\\boxed{\\frac{2}{3}}$.\nFinal Answer: The final answer is $\\frac{2}{3}$. I hope it is correct.",
        False,
    ),
    (
        "$14{,}916$",
        "The next candidate, $14{,}916$, is a multiple of $3$ and of $4$.\nFinal Answer: The final answer is $14{,}916$. I hope it is correct.",
        True,
    ),
    (
        "$14916$",
        "Checking divisibility by 3 and 4 leaves $N = 14{,}916$.\nFinal Answer: The final answer is $14{,}916$. I hope it is correct.",
        True,
    ),
    (
        "$32349$",
        "Adding the two counts gives $\\boxed{32,\\! 349}$.\nFinal Answer: The final answer is $32,\\! 349$. I hope it is correct.",
        True,
    ),
    (
        "$24$",
        "At first I wrote $\\boxed{14}$, but $(2)(12) = 24$.\nFinal Answer: The final answer is $24$. I hope it is correct.",
        True,
    ),
    (
        "$24$",
        "We have $\\det (\\mathbf{A} \\mathbf{B}) = \\boxed{24}$.\nFinal Answer: The final answer is $14$. I hope it is correct.",
        False,
    ),
    ("$16$", "So $n = 480/30 = 16$.\nFinal Answer: The final answer is $16$.", True),
    (
        "$\\text{Evelyn}$",
        "Her average speed is the greatest.\nFinal Answer: The final answer is $\\text{Evelyn}$. I hope it is correct.",
        True,
    ),
    (
        "$90^\\circ$",
        "The direction vectors are orthogonal.\nFinal Answer: The final answer is $90^\\circ$. I hope it is correct.",
        True,
    ),
    (
        "$15$",
        "Half of base times height is $\\frac{1}{2}\\cdot 3\\cdot 10$.\nFinal Answer: The final answer is $15\\text{ cm}^2$. I hope it is correct.",
        True,
    ),
    (
        "$18.90$",
        "Seven items at $\\$2.70$ each.\nFinal Answer: The final answer is $\\$18.90$. I hope it is correct.",
        True,
    ),
]

DEEPSEEK_QWEN: list[tuple[str, str, bool]] = [
    (
        "$10$",
        "<think>\nOkay, so I need the number of handshakes among 5 people. Maybe it is 20? Wait, each handshake is counted twice, so it is 10.\n</think>\n\nEach of the 5 people shakes 4 hands, and each handshake is counted twice:\n\n\\[\n\\frac{5 \\cdot 4}{2} = 10\n\\]\n\n**Final Answer**\n\\[\n\\boxed{10}\n\\]",
        True,
    ),
    (
        "$10$",
        "<think>\nLet me count pairs: $\\binom{5}{2} = 10$.\n\n**Final Answer**\n\\boxed{10}\n</think>\n\nThe number of handshakes is $\\binom{5}{2} = \\boxed{10}$.",
        True,
    ),
    (
        "$12$",
        "<think>\nFirst guess: \\boxed{12}. Hmm, that double counts.\n</think>\n\nThe answer is \\(\\boxed{10}\\).",
        False,
    ),
    (
        "$\\frac{1}{2}$",
        "The probability is the ratio of favourable to possible outcomes. Therefore, the final answer is \\(\\boxed{\\dfrac{1}{2}}\\).",
        True,
    ),
    ("$0.5$", "Therefore, the final answer is \\(\\boxed{\\frac{1}{2}}\\).", True),
    ("$2, 3$", "The solutions are \\(\\boxed{2}\\) and \\(\\boxed{3}\\).", True),
    ("$\\{1,2,3\\}$", "The roots are \\boxed{1}, \\boxed{2}, \\boxed{3}.", True),
    (
        "$(3, \\frac{\\pi}{2})$",
        "In polar form the point is \\(\\boxed{\\left(3, \\dfrac{\\pi}{2}\\right)}\\).",
        True,
    ),
    ("$(-\\infty, 2]$", "Hence the solution set is \\[\n\\boxed{(-\\infty, 2]}\n\\]", True),
    ("$(-\\infty, 2]$", "Hence the solution set is \\[\n\\boxed{(-\\infty, 2)}\n\\]", False),
    ("$\\sqrt{2}$", "So the side length is \\(\\boxed{\\sqrt{3}}\\).", False),
    ("$5$", "Solving the linear equation gives \\(\\boxed{x = 5}\\).", True),
    ("$32349$", "Adding them up, the total is \\(\\boxed{32,\\! 349}\\).", True),
    (
        "$10$",
        "We first guess $\\boxed{12}$, but that double counts the handshakes. Dividing by two, the final answer is $10$.",
        True,
    ),
    (
        "$10$",
        "<think>\nThe count is \\boxed{10}.\n</think>\n\nI could not finish the problem.",
        False,
    ),
    (
        "$7$",
        "<think>\nTry $n = 7$: it works.\n</think>\n\nThe smallest $n$ is \\(\\boxed{8}\\).",
        False,
    ),
]
