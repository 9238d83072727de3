"""RL with verifiable rewards for the lab's tiny models, nanoGPT-style: one loop, the
algorithms differing only in their advantage and in how the loss is clipped and averaged.

Each step: P prompts, G samples each from the current policy (temperature 1), a
0/1 reward from the grading stage's verifier, an advantage per sample, then
`epochs` updates of the clipped policy-gradient loss

    L = -agg( min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) ) + beta KL(pi || pi_ref)

with rho = pi(token) / pi_old(token) and the k3 estimator of the KL to the base.

| algo         | advantage A (rewards r, shape [P x G])            | clip (low, high) | agg           |
| ------------ | ------------------------------------------------- | ---------------- | ------------- |
| grpo         | (r - mean_group) / (std_group + eps)  (Shao 2024) | 0.2, 0.2         | sequence mean |
| rloo         | r - mean of the group's other samples (Ahmadian)  | 0.2, 0.2         | sequence mean |
| reinforce_pp | (r - mean_batch) / (std_batch + eps)  (Hu 2025)   | 0.2, 0.2         | token mean    |
| dapo         | (r - mean_group) / (std_group + eps); groups with  | 0.2, 0.28        | token mean    |
|              | all-equal rewards dropped (Yu 2025)                |                  |               |
| prorl        | as dapo, plus the KL term to a reference that is   | 0.2, 0.4         | token mean    |
|              | reset to the current policy every R steps          |                  |               |
| ppo          | GAE per token from a learned value head (below)    | 0.2, 0.2         | token mean    |
| passk        | Pass@k Training's analytical group advantage       | 0.2, 0.2         | sequence mean |
| pkpo         | PKPO's unbiased pass@k rewards, k annealed, centred| 0.2, 0.2         | sequence mean |
| w_reinforce  | +lambda if correct (lambda = 0.1), -1 if wrong     | 0.2, 0.2         | sequence mean |
| unlikely     | GRPO on rewards lowered for *likely* correct ones  | 0.2, 0.2         | sequence mean |
| answer_bonus | GRPO on rewards minus c * (share of the group      | 0.2, 0.2         | sequence mean |
|              | that gave the same final answer)                   |                  |               |
| answer_ucb   | GRPO plus c * (min(1, 1/sqrt(N)) - 1/2), N = times | 0.2, 0.2         | sequence mean |
|              | the task's answer was seen in earlier steps        |                  |               |

The last six are the "exploration-preserving" variants; each function's docstring gives its
formula, its source and what was chosen where the paper leaves a detail open. They read more
than the rewards: a `Group` carries each sample's log-probability under the old policy and its
length in tokens, its canonical final answer (the verifier's `Verdict.answer`), how often that
answer was seen for the same task in earlier steps (`rl_train` keeps the tally) and the share
of training done.

ProRL (Liu et al. 2025, "ProRL: Prolonged Reinforcement Learning Expands Reasoning
Boundaries", arXiv 2505.24864): GRPO with DAPO's decoupled clip and dynamic sampling, a
KL penalty beta KL(pi || pi_ref), and a *hard reset* every R steps: pi_ref <- pi (a copy
of the current policy) and the optimizer's state reinitialised, so the KL term restrains
each stretch of training without pulling the policy back to the start. Right after a
reset pi = pi_ref, so the KL term is exactly 0 (`history[step]["kl"]`, measured before
the step's first update). `RLConfig.reset_every` sets R for any algorithm (0: never).

PPO (Schulman et al. 2017, with the LLM recipe of Ouyang et al. 2022): a value head V, one
linear layer on the policy's last hidden state, predicts the return at every generated position.
The reward r (0/1) arrives on the last generated token; with gamma = 1 and lambda = 0.95,

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t),   A_t = sum_l (gamma lambda)^l delta_{t+l}   (GAE)

A is whitened over the batch's tokens; the head is fitted to the returns R_t = A_t + V_old(s_t)
with PPO's clipped value loss 0.5 max((V - R)^2, (V_old + clip(V - V_old, -0.2, 0.2) - R)^2).
The head reads the hidden state *detached*, so the value loss trains the head alone and cannot
pull the policy; the head is discarded after training (the saved folder is the policy only).
The KL term to the base stays in the loss, as for the other algorithms (InstructGPT puts a
per-token KL penalty into the reward instead).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leash.grading import GradeItem, get_verifier
from leash.tasks import Task

__all__ = ["ALGOS", "PRESETS", "Group", "RLConfig", "advantages", "gae", "kl_k3", "pass_at_k_advantage",
           "pkpo_rewards", "rl_train", "tally_answers"]  # fmt: skip

EPS = 1e-4
GAMMA, LAMBDA, VALUE_CLIP, VALUE_LR = 1.0, 0.95, 0.2, 3e-3  # PPO's critic
PASSK_K = 4  # Pass@k Training's k (the paper's main setting); at most half the group (k = G: no signal)
W_LAMBDA = 0.1  # W-REINFORCE's weight on correct samples
UNLIKELY_BETA = 0.25  # the unlikeliness reward's beta_rank (rank_penalty in the authors' run script)
ANSWER_C = 0.5  # the answer bonus's weight (< 1: a correct sample always outranks a wrong one)
UCB_C, UCB_B0 = 0.5, 0.5  # historical exploration's weight c (ours) and constant baseline b0 (UCB-Con)


@dataclass(frozen=True)
class Group:
    """What an advantage may read besides the rewards r [P x G]."""

    logp: Any = None  # [P x G] log pi_old(sample): the sum of its token log-probabilities
    tokens: Any = None  # [P x G] generated tokens per sample (its EOS included)
    answers: list[list[str | None]] | None = None  # [P][G] canonical final answers (None: none found)
    seen: list[list[int]] | None = None  # [P][G] times the sample's (task, answer) came up in earlier steps
    progress: float = 0.0  # share of training done before this step: step / steps, in [0, 1)


def _grpo(r: Any, g: Group | None = None) -> Any:  # [P x G] -> [P x G]
    return (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + EPS)


def _rloo(r: Any, g: Group | None = None) -> Any:
    n = r.shape[1]
    return r - (r.sum(1, keepdim=True) - r) / (n - 1)


def _reinforce_pp(r: Any, g: Group | None = None) -> Any:
    return (r - r.mean()) / (r.std() + EPS)


def pass_at_k_advantage(r: Any, k: int) -> Any:
    """Pass@k Training's analytical advantage (Chen et al. 2025, arXiv 2508.10751): with N samples,
    N_neg wrong, mean group reward Rbar = 1 - C(N_neg, k) / C(N, k), sigma = sqrt(Rbar (1 - Rbar)),

        A_correct = (1 - Rbar) / sigma,   A_wrong = (1 - Rbar - C(N_neg - 1, k - 1) / C(N - 1, k - 1)) / sigma

    i.e. each sample's mean, over the k-subsets holding it, of the subset's normalised max reward
    (0 where sigma = 0: all right or all wrong)."""
    import torch

    n = r.shape[1]
    k = min(k, n)
    out = torch.zeros_like(r)
    for row in range(r.shape[0]):
        neg = int((r[row] == 0).sum())
        mean = 1 - math.comb(neg, k) / math.comb(n, k)
        sigma = math.sqrt(mean * (1 - mean))
        if sigma == 0:
            continue
        wrong = (1 - mean - math.comb(neg - 1, k - 1) / math.comb(n - 1, k - 1)) / sigma if neg else 0.0
        out[row] = torch.where(r[row] > 0, r.new_tensor((1 - mean) / sigma), r.new_tensor(wrong))
    return out


def _passk(r: Any, g: Group | None = None) -> Any:
    # With k = G a group holding any correct sample has pass@k exactly 1: no signal, hence G // 2.
    return pass_at_k_advantage(r, max(1, min(PASSK_K, r.shape[1] // 2)))


def pkpo_rewards(r: Any, k: int) -> Any:
    """PKPO's transformed rewards for 0/1 rewards (Walder & Karkhanis 2025, arXiv 2505.15201, binary
    case): with n samples, c correct and rho(n, c, k) = 1 - C(n - c, k) / C(n, k) the unbiased pass@k,

        r~_i = k/n if sample i is correct,   r~_i = (k/n) rho(n - 1, c, k - 1) if it is wrong,

    so sum_i r~_i grad log p(x_i) is unbiased for grad pass@k, and (1/k) sum_i r~_i = rho(n, c, k)."""
    import torch

    n = r.shape[1]
    out = torch.zeros_like(r)
    for row in range(r.shape[0]):
        c = int((r[row] > 0).sum())
        rho = 1 - math.comb(n - 1 - c, k - 1) / math.comb(n - 1, k - 1)  # rho(n - 1, c, k - 1)
        out[row] = torch.where(r[row] > 0, r.new_tensor(k / n), r.new_tensor(k / n * rho))
    return out


def _pkpo(r: Any, g: Group | None = None) -> Any:
    """PKPO with k annealed: k falls linearly from G/2 at the start to 1 at the end of training
    (the paper anneals k from high to low; the linear schedule is our choice), then the group mean
    is subtracted (a baseline of our choosing; the paper also offers leave-one-out ones)."""
    n = r.shape[1]
    progress = g.progress if g is not None else 0.0
    k = max(1, round(n / 2 + (1 - n / 2) * progress))
    t = pkpo_rewards(r, k)
    return t - t.mean(1, keepdim=True)


def _w_reinforce(r: Any, g: Group | None = None) -> Any:
    """W-REINFORCE (Zhu et al. 2025, "The Surprising Effectiveness of Negative Reinforcement",
    arXiv 2506.01347): A = lambda on correct samples (lambda = 0.1), -1 on wrong ones; no baseline."""
    return (r > 0).float() * (W_LAMBDA + 1) - 1


def _unlikely(r: Any, g: Group | None = None) -> Any:
    """Unlikeliness reward (He, Fried & Welleck 2025, arXiv 2506.02355): sort the whole group (wrong
    samples included) by likelihood under the old policy, rank 0 = least likely, G - 1 = most likely;
    then r~_i = r_i (1 - beta_rank rank_i / G) with beta_rank = 0.25, and GRPO's normalisation. A wrong
    sample keeps 0; the least likely correct one keeps 1. This follows the authors' released code
    (github.com/AndreHe02/rewarding-unlikely-release, `_compute_advantages` and `rank_penalty=0.25`
    in examples/lean/grpo.sh): the likelihood there is the *mean* token log-probability of the
    sample, so we rank by logp / tokens. The paper's own text could not be read here. Ties keep the
    sample order (the earlier sample counts as the less likely)."""
    if g is None or g.logp is None or g.tokens is None:
        raise ValueError("unlikely needs each sample's log-probability under the old policy and its length")
    n = r.shape[1]
    mean_logp = g.logp / g.tokens.clamp(min=1)  # [P x G]
    shaped = r.clone()
    for row in range(r.shape[0]):
        order = sorted(range(n), key=lambda j: float(mean_logp[row, j]))  # stable: ties keep sample order
        for rank, j in enumerate(order):
            shaped[row, j] = r[row, j] * (1 - UNLIKELY_BETA * rank / n)
    return _grpo(shaped)


def _answer_bonus(r: Any, g: Group | None = None) -> Any:
    """Outcome-based exploration, the batch form (Song, Kempe & Munos 2025, arXiv 2509.06941):
    r~_i = r_i - c m_i / G with m_i the number of the group's samples (i included) whose final answer
    equals sample i's and c = 0.5, then GRPO's normalisation: a rarer answer earns more. Samples with no
    answer count as one shared answer. (The historical form over training is `answer_ucb`.)"""
    if g is None or g.answers is None:
        raise ValueError("answer_bonus needs each sample's final answer")
    n = r.shape[1]
    shaped = r.clone()
    for row, answers in enumerate(g.answers):
        for j, a in enumerate(answers):
            shaped[row, j] = r[row, j] - ANSWER_C * answers.count(a) / n
    return _grpo(shaped)


def _answer_ucb(r: Any, g: Group | None = None) -> Any:
    """Outcome-based exploration, the historical form with a constant baseline ("UCB-Con"; Song, Kempe
    & Munos 2025, arXiv 2509.06941): with N_i the number of times sample i's final answer came up for
    the same task in earlier steps,

        A_i = GRPO(r)_i + c (b(N_i) - b0),   b(N) = min(1, 1 / sqrt(N)),   b0 = 0.5,  c = 0.5

    so an answer never seen (N = 0) or seen up to 4 times gets a bonus >= 0 and one seen more often a
    penalty. b, b0 = 0.5 and the bonus added to the normalised advantage (so a group whose rewards
    are all equal still learns from it) are as a third-party summary of the paper's v1 gives its
    objective; the paper's text itself could not be read here. Ours, where that summary is silent:
    c = 0.5 (the paper's value was not found), N counts earlier steps only (samples of this step do
    not count against each other; that is the batch form, `answer_bonus`), every sample gets the
    bonus whether right or wrong, and "no answer" is one more outcome, counted like the others."""
    import torch

    if g is None or g.seen is None:
        raise ValueError("answer_ucb needs how often each sample's answer was seen before")
    n = torch.tensor(g.seen, dtype=r.dtype)  # [P x G]
    bonus = torch.clamp(n, min=1).rsqrt()  # N = 0 and N = 1 both give 1
    return _grpo(r) + UCB_C * (bonus - UCB_B0)


def tally_answers(
    history: Counter[tuple[str, str | None]], task_ids: list[str], answers: list[list[str | None]]
) -> list[list[int]]:
    """For prompts `task_ids` [P] and their samples' answers [P][G]: how often each (task, answer) is
    in `history` (the earlier steps), [P][G]; then adds this step's answers to `history`."""
    seen = [[history[(task, a)] for a in row] for task, row in zip(task_ids, answers, strict=True)]
    history.update((task, a) for task, row in zip(task_ids, answers, strict=True) for a in row)
    return seen


@dataclass(frozen=True)
class Algo:
    advantage: Callable[..., Any] | None  # (rewards [P x G], Group) -> [P x G]; None: PPO's critic
    clip_low: float = 0.2
    clip_high: float = 0.2
    token_mean: bool = False  # average the loss over tokens (else per sequence, then over sequences)
    drop_flat_groups: bool = False  # DAPO's dynamic sampling: groups with no signal carry no gradient
    reset_every: int = 0  # ProRL: reset the reference (and optimizer) every R steps; 0: never


ALGOS: dict[str, Algo] = {
    "grpo": Algo(_grpo),
    "rloo": Algo(_rloo),
    "reinforce_pp": Algo(_reinforce_pp, token_mean=True),
    "dapo": Algo(_grpo, clip_high=0.28, token_mean=True, drop_flat_groups=True),
    "prorl": Algo(_grpo, clip_high=0.4, token_mean=True, drop_flat_groups=True, reset_every=50),
    "ppo": Algo(None, token_mean=True),
    "passk": Algo(_passk),
    "pkpo": Algo(_pkpo),
    "w_reinforce": Algo(_w_reinforce),
    "unlikely": Algo(_unlikely),
    "answer_bonus": Algo(_answer_bonus),
    "answer_ucb": Algo(_answer_ucb),
}


def advantages(algo: str, rewards: Any, group: Group | None = None) -> Any:
    """The algorithm's advantage for rewards [P x G] (a torch tensor); not for ppo (per token)."""
    fn = ALGOS[algo].advantage
    if fn is None:
        raise ValueError(f"{algo} learns its advantage per token (gae), not per group")
    return fn(rewards, group)


def gae(rewards: Any, values: Any, mask: Any, gamma: float = GAMMA, lam: float = LAMBDA) -> Any:
    """Generalised advantage estimation (Schulman et al. 2016) over [N x T] tokens, `mask` 1 on a
    prefix of each row: A_t = delta_t + gamma lam A_{t+1}, delta_t = r_t + gamma V_{t+1} - V_t, and
    V = A = 0 past the end of the row."""
    import torch

    adv = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    next_value = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * m
        adv[:, t] = running
        next_value = values[:, t] * m
    return adv


def kl_k3(logp: Any, ref: Any) -> Any:
    """Per-token k3 estimate of KL(pi || pi_ref): exp(d) - d - 1 with d = log pi_ref - log pi (>= 0,
    0 where pi = pi_ref; Schulman's k3)."""
    import torch

    delta = ref - logp
    return torch.exp(delta) - delta - 1


@dataclass(frozen=True)
class RLConfig:
    algo: str = "grpo"
    steps: int = 100
    prompts_per_step: int = 16  # P
    group: int = 8  # G samples per prompt
    lr: float = 3e-4  # at 5e-4 without KL, GRPO collapsed onto a few answers in the lab (docs/lab.md)
    beta: float = 0.05  # KL to the base (k3); DAPO and Dr. GRPO use none: pass 0
    epochs: int = 2  # updates per batch of samples (what makes the clip matter)
    max_tokens: int = 12
    seed: int = 0
    reset_every: int | None = None  # R: reset the reference to the policy every R steps (None: the
    # algorithm's default, 50 for prorl and never for the others; 0: never)
    save_every: int = 0  # call `checkpoint(step)` after every N steps (0: never)

    def resets(self) -> int:
        """R, the reference reset period in steps (0: never)."""
        return ALGOS[self.algo].reset_every if self.reset_every is None else self.reset_every


# Learning rate and KL weight per preset (docs/lab.md, "Nearer the papers' magnitudes"). `fast`, the
# default, shows the leash plainly in 150 steps (GRPO's SRR 0.52-0.97 over seeds); `papers` keeps
# GRPO near the papers' regime: over 3 seeds SRR 0.99 at k = 1024 with pass@1 0.106 -> 0.194.
# The KL weight is what matters: lr 1e-4 alone left SRR at 0.58-0.86 (k = 256).
PRESETS: dict[str, dict[str, float]] = {
    "fast": {"lr": RLConfig.lr, "beta": RLConfig.beta},  # RLConfig's defaults, so the two cannot drift
    "papers": {"lr": 1e-4, "beta": 0.2},
}


def _sequence_logprobs(model: Any, ids: Any, mask: Any, start: int, hidden: bool = False) -> Any:
    """log pi(token) for every generated position: [N x (T - start)]; with `hidden`, also the last
    hidden state that predicted each of those tokens ([N x (T - start) x H], for PPO's value head)."""
    import torch

    positions = (mask.cumsum(1) - 1).clamp(min=0)  # as generate() numbers left-padded rows
    output = model(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=hidden)
    logits = output.logits[:, start - 1 : -1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, start:].unsqueeze(-1)).squeeze(-1)
    return (logp, output.hidden_states[-1][:, start - 1 : -1]) if hidden else logp


def _value_loss(values: Any, old: Any, returns: Any, mask: Any) -> Any:
    """PPO's clipped value loss, averaged over the masked tokens."""
    import torch

    clipped = old + torch.clamp(values - old, -VALUE_CLIP, VALUE_CLIP)
    worst = torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return 0.5 * (worst * mask).sum() / mask.sum().clamp(min=1)


def _ppo_targets(rewards: Any, values: Any, mask: Any) -> tuple[Any, Any]:
    """Per-token advantages (GAE, whitened over the batch's tokens) and returns for N sequences whose
    0/1 reward `rewards` [N] arrives on each row's last generated token."""
    import torch

    last = (mask.sum(1).long() - 1).clamp(min=0)
    token_rewards = torch.zeros_like(values)
    token_rewards[torch.arange(len(last)), last] = rewards
    adv = gae(token_rewards, values, mask)
    returns = adv + values
    valid = mask > 0
    mean, std = adv[valid].mean(), adv[valid].std()
    return ((adv - mean) / (std + 1e-8)) * mask, returns


def rl_train(
    model: Any,
    reference: Any,
    tokenizer: Any,
    tasks: list[Task],
    config: RLConfig,
    checkpoint: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Tune `model` in place; returns per step the mean reward, the loss and the KL to the reference
    (before the step's first update). With `config.save_every` N, `checkpoint(s)` runs after step s
    for s = N, 2N, ... (s counts finished steps). A tally of every (task id, final answer) sampled so
    far lives for the length of the call (`Group.seen`, read by answer_ucb); nothing outlives it."""
    import copy

    import torch

    if config.algo not in ALGOS:
        raise ValueError(f"unknown algo {config.algo!r}; choose one of {sorted(ALGOS)}")
    algo = ALGOS[config.algo]
    reset_every = config.resets()
    verifier = get_verifier(tasks[0].verifier or "arith")
    # PPO's value head: a linear layer on the (detached) last hidden state, trained beside the policy
    # and discarded at the end. Zero-initialised: V = 0 at the start, so GAE starts from the rewards.
    head = torch.nn.Linear(model.config.hidden_size, 1) if algo.advantage is None else None
    if head is not None:
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)

    def fresh_optimizer() -> Any:
        groups = [{"params": list(model.parameters()), "lr": config.lr}]
        if head is not None:
            groups.append({"params": list(head.parameters()), "lr": VALUE_LR})
        return torch.optim.AdamW(groups, lr=config.lr, weight_decay=0.0)

    optimizer = fresh_optimizer()
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    answer_history: Counter[tuple[str, str | None]] = Counter()  # (task id, answer) -> samples so far
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    for step in range(config.steps):
        if reset_every and step > 0 and step % reset_every == 0:
            # ProRL's hard reset: the reference becomes the current policy, the optimizer starts afresh.
            reference = copy.deepcopy(model).eval()
            optimizer = fresh_optimizer()
        picks = torch.randint(len(tasks), (config.prompts_per_step,), generator=generator).tolist()
        batch = [tasks[i] for i in picks]
        # Prompts of one length per step keep the batch unpadded (the lab's prompts vary by a char or two).
        prompts = [tokenizer(t.question + "\n", add_special_tokens=False).input_ids for t in batch]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left padding for generation
            ids[row, width - len(p) :] = torch.tensor(p)
            mask[row, width - len(p) :] = 1
        ids = ids.repeat_interleave(config.group, 0)
        mask = mask.repeat_interleave(config.group, 0)
        torch.manual_seed(config.seed * 100_003 + step)
        model.eval()
        with torch.no_grad():
            out = model.generate(
                ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                max_new_tokens=config.max_tokens, pad_token_id=pad, eos_token_id=eos,
            )  # fmt: skip
        new = out[:, width:]
        # Generated positions up to and including the first EOS count; the rest is padding.
        is_eos = (new == eos).int()
        seen = torch.cumsum(is_eos, dim=1) - is_eos
        gen_mask = (seen == 0).float()
        texts = [tokenizer.decode(row, skip_special_tokens=True) for row in new]
        items = [GradeItem(t.task_id, text, t.reference) for t, text in zip(
            [b for b in batch for _ in range(config.group)], texts, strict=True)]  # fmt: skip
        verdicts = verifier.grade(items)
        rewards = torch.tensor([float(v.correct) for v in verdicts]).view(len(batch), config.group)
        full_mask = torch.cat([mask, gen_mask.long()], dim=1)
        with torch.no_grad():
            old = _sequence_logprobs(model, out, full_mask, width, hidden=head is not None)
            if head is not None:
                old, states = old
                old_values = head(states).squeeze(-1) * gen_mask
                adv, returns = _ppo_targets(rewards.view(-1), old_values, gen_mask)
            ref = _sequence_logprobs(reference, out, full_mask, width) if config.beta > 0 else None
            # KL(pi || pi_ref) per generated token before this step's updates (0 right after a reset).
            kl_value = math.nan  # no reference without a KL term (beta 0)
            if ref is not None:
                kl_value = float((kl_k3(old, ref) * gen_mask).sum() / gen_mask.sum().clamp(min=1))
        if algo.advantage is not None:
            answers = [[v.answer for v in verdicts[i : i + config.group]]
                       for i in range(0, len(verdicts), config.group)]  # fmt: skip
            group = Group(
                logp=(old * gen_mask).sum(1).view(len(batch), config.group),
                tokens=gen_mask.sum(1).view(len(batch), config.group),
                answers=answers,
                seen=tally_answers(answer_history, [t.task_id for t in batch], answers),
                progress=step / config.steps,
            )
            adv = algo.advantage(rewards, group).view(-1, 1)
        keep = torch.ones(len(batch), dtype=torch.bool)
        if algo.drop_flat_groups:
            keep = rewards.std(1) > 0
        weights = (keep.float().unsqueeze(1) * torch.ones_like(rewards)).view(-1)
        model.train()
        loss_value = 0.0
        if weights.sum() > 0:
            for _ in range(config.epochs):
                logp = _sequence_logprobs(model, out, full_mask, width, hidden=head is not None)
                if head is not None:
                    logp, states = logp
                ratio = torch.exp(logp - old)
                clipped = torch.clamp(ratio, 1 - algo.clip_low, 1 + algo.clip_high)
                per_token = -torch.minimum(ratio * adv, clipped * adv)
                if ref is not None:
                    per_token = per_token + config.beta * kl_k3(logp, ref)
                m = gen_mask * weights.unsqueeze(1)
                if algo.token_mean:
                    loss = (per_token * m).sum() / m.sum().clamp(min=1)
                else:
                    per_seq = (per_token * m).sum(1) / gen_mask.sum(1).clamp(min=1)
                    loss = per_seq.sum() / weights.sum().clamp(min=1)
                if head is not None:  # the head sees detached states: this term trains the head alone
                    values = head(states.detach()).squeeze(-1)
                    loss = loss + _value_loss(values, old_values, returns, gen_mask)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                loss_value = float(loss.detach())
        history.append({"step": step, "reward": float(rewards.mean()), "loss": loss_value, "kl": kl_value})
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss became {loss_value} at step {step}")
        if checkpoint is not None and config.save_every and (step + 1) % config.save_every == 0:
            model.eval()
            checkpoint(step + 1)
    model.eval()
    verifier.close()
    return history
