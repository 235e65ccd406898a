"""Batched greedy and beam-search decoding over a KV-cached decoder session.

The decoding rules follow transformers' generate() so that, for the same model, the
chosen token ids are identical: greedy takes the argmax and pads finished rows;
beam search keeps 2*num_beams candidates per step, scores finished hypotheses by
sum(log p) / length**length_penalty and stops on the same early-stop heuristic.

A session is anything with
    step(last_tokens: np.ndarray[int64] (N,)) -> np.ndarray[float32] (N, V)  # next-token logits
    select(rows: np.ndarray[int64]) -> None   # keep/reorder/duplicate cache rows
so this module needs no tensors and is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class DecoderSession(Protocol):
    def step(self, last_tokens: np.ndarray) -> np.ndarray: ...

    def select(self, rows: np.ndarray) -> None: ...


@dataclass
class Generated:
    """One decoded sequence: token ids after the start token, and their probabilities."""

    tokens: list[int]
    token_probs: list[float]
    score: float  # sum of log-probs (greedy) or length-normalised beam score


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float32, copy=False)
    m = logits.max(axis=-1, keepdims=True)
    shifted = logits - m
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _top_k_desc(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values along the last axis, largest first (stable on ties)."""
    return np.argsort(-x, axis=-1, kind="stable")[..., :k]


def greedy(session: DecoderSession, batch: int, start_id: int, eos_id: int,
           max_new_tokens: int) -> list[Generated]:
    """Greedy decoding; rows that reached EOS are dropped from the session (same result,
    less work), which transformers expresses by padding them. Dropping copies every
    layer's cache, so finished rows ride along (their tokens ignored) until they are a
    quarter of the session: one copy then instead of one per finishing step."""
    tokens: list[list[int]] = [[] for _ in range(batch)]
    probs: list[list[float]] = [[] for _ in range(batch)]
    scores = np.zeros(batch, dtype=np.float64)
    active = np.arange(batch)  # session row i decodes sequence active[i]
    live = np.ones(batch, dtype=bool)  # session rows still decoding
    last = np.full(batch, start_id, dtype=np.int64)
    for _ in range(max_new_tokens):
        logp = log_softmax(session.step(last))
        nxt = logp.argmax(axis=-1)
        chosen = logp[np.arange(len(active)), nxt]
        for i in np.flatnonzero(live):
            row = active[i]
            tokens[row].append(int(nxt[i]))
            probs[row].append(float(np.exp(chosen[i])))
            scores[row] += float(chosen[i])
            if nxt[i] == eos_id:
                live[i] = False
        if not live.any():
            break
        if 4 * int((~live).sum()) >= len(live):
            keep_idx = np.flatnonzero(live)
            session.select(keep_idx)
            active, live, nxt = active[keep_idx], live[keep_idx], nxt[keep_idx]
        last = nxt.astype(np.int64)
    return [Generated(tokens[b], probs[b], float(scores[b])) for b in range(batch)]


def beam_search(session: DecoderSession, batch: int, start_id: int, eos_id: int,
                max_new_tokens: int, num_beams: int, length_penalty: float = 1.0,
                early_stopping: bool | str = False) -> list[Generated]:
    """Beam search with transformers' semantics. The session must hold `batch` rows;
    it is expanded to batch*num_beams rows here."""
    k_keep = 2 * num_beams
    session.select(np.repeat(np.arange(batch), num_beams))
    prompt_len = 1
    max_length = prompt_len + max_new_tokens
    width = max_new_tokens
    run_seq = np.full((batch, num_beams, width), eos_id, dtype=np.int64)
    run_lp = np.zeros((batch, num_beams, width), dtype=np.float32)  # per-token log-probs
    run_score = np.zeros((batch, num_beams), dtype=np.float32)
    run_score[:, 1:] = -1e9
    fin_seq = run_seq.copy()
    fin_lp = run_lp.copy()
    fin_len = np.zeros((batch, num_beams), dtype=np.int64)
    fin_score = np.full((batch, num_beams), -1e9, dtype=np.float32)
    fin_done = np.zeros((batch, num_beams), dtype=bool)
    heuristic_open = np.ones((batch, 1), dtype=bool)
    last = np.full(batch * num_beams, start_id, dtype=np.int64)
    top_mask = np.arange(k_keep) < num_beams
    b_idx = np.arange(batch)[:, None]
    for step in range(max_new_tokens):
        cur_len = prompt_len + step
        logp = log_softmax(session.step(last)).reshape(batch, num_beams, -1)
        vocab = logp.shape[-1]
        acc = (logp + run_score[:, :, None]).reshape(batch, -1)
        top = _top_k_desc(acc, k_keep)
        top_score = np.take_along_axis(acc, top, axis=1)
        parent = top // vocab
        tok = top % vocab
        cand_seq = run_seq[b_idx, parent].copy()
        cand_seq[:, :, step] = tok
        cand_lp = run_lp[b_idx, parent].copy()
        cand_lp[:, :, step] = top_score - run_score[b_idx, parent]
        hits = (tok == eos_id) | (cur_len + 1 >= max_length)

        # Running beams for the next step: best num_beams candidates that did not stop.
        running_scores = top_score + hits.astype(np.float32) * -1e9
        nxt = _top_k_desc(running_scores, num_beams)
        new_seq = np.take_along_axis(cand_seq, nxt[:, :, None], axis=1)
        new_lp = np.take_along_axis(cand_lp, nxt[:, :, None], axis=1)
        new_score = np.take_along_axis(running_scores, nxt, axis=1)
        new_parent = np.take_along_axis(parent, nxt, axis=1)

        # Finished hypotheses: merge the ones that just stopped with those kept so far.
        norm = top_score / float((cur_len + 1 - prompt_len) ** length_penalty)
        just_done = hits & top_mask[None, :]
        full = fin_done.all(axis=1, keepdims=True) & (early_stopping is True)
        norm = norm + full * -1e9 + (~heuristic_open) * -1e9 + (~just_done) * -1e9
        m_score = np.concatenate([fin_score, norm.astype(np.float32)], axis=1)
        m_seq = np.concatenate([fin_seq, cand_seq], axis=1)
        m_lp = np.concatenate([fin_lp, cand_lp], axis=1)
        m_len = np.concatenate([fin_len, np.full((batch, k_keep), step + 1)], axis=1)
        m_done = np.concatenate([fin_done, just_done], axis=1)
        best = _top_k_desc(m_score, num_beams)
        fin_score = np.take_along_axis(m_score, best, axis=1)
        fin_seq = np.take_along_axis(m_seq, best[:, :, None], axis=1)
        fin_lp = np.take_along_axis(m_lp, best[:, :, None], axis=1)
        fin_len = np.take_along_axis(m_len, best, axis=1)
        fin_done = np.take_along_axis(m_done, best, axis=1)

        run_seq, run_lp, run_score = new_seq, new_lp, new_score
        flat_parent = (new_parent + np.arange(batch)[:, None] * num_beams).reshape(-1)
        session.select(flat_parent.astype(np.int64))
        last = run_seq[:, :, step].reshape(-1)

        # Early-stop heuristic (early_stopping=False: judge by the current length).
        length = (max_length - prompt_len) if (early_stopping == "never" and length_penalty > 0) \
            else (cur_len + 1 - prompt_len)
        best_running = run_score[:, :1] / float(length ** length_penalty)
        worst_done = np.where(fin_done, fin_score.min(axis=1, keepdims=True), -1e9)
        heuristic_open = heuristic_open & (best_running > worst_done).any(axis=1, keepdims=True)
        if not heuristic_open.any():
            break
        if early_stopping is True and fin_done.all():
            break
        if hits.all():
            break

    out = []
    for b in range(batch):
        n = int(fin_len[b, 0])
        seq = fin_seq[b, 0, :n].tolist()
        lps = fin_lp[b, 0, :n]
        out.append(Generated(seq, [float(np.exp(v)) for v in lps], float(fin_score[b, 0])))
    return out
