"""Label coherence of concepts: are the images a concept fires on most of one class, more than chance says?

After Network Dissection (Bau et al., 2017). For each model and concept, take its top ``n`` images (those with the
largest code, among the images where it fires) and count their labels:

- ``share`` = c_max / n, where c_max is the count of the most frequent label (ties: the first label in sorted
  order);
- ``enrichment`` = share / base rate of that label over all N images;
- ``p``: a permutation p-value. Permuting the N labels makes the top ``n`` a uniform random ``n``-subset of them,
  so the null distribution of the share is the same for every concept of a split: it is drawn once, from
  ``permutations`` seeded random subsets. The share takes few values, so ties are broken at random (seeded),
  which makes ``p`` exactly uniform under the null: ``p = (G + U (E + 1)) / (P + 1)``, with G null shares above
  the observed one, E equal to it, and U uniform on [0, 1);
- a concept is *coherent* when its Benjamini-Hochberg adjusted ``p`` is at most the false-discovery rate, over
  every (model, concept) tested.

A concept is tested in a model when it fires on at least ``n`` images there. Across models, the *agreement* of a
concept is the largest number of models tested in it that share one top label; by chance (each model's top label
drawn from the null, independently) all M agree with probability ``sum_l q_l^M``, q_l the null's chance that
label l comes out on top. docs/concept_evidence.md gives the formulas with their outputs.
"""

import numpy as np
from scipy.stats import binomtest, false_discovery_control

NO_LABELS = "no labels"


def encode_labels(labels_N):
    """Labels as integer codes: ``(codes_N, vocabulary)``, the vocabulary sorted, ``""`` coded -1."""
    labels_N = np.asarray(labels_N, dtype=str)
    vocabulary = sorted(set(labels_N.tolist()) - {""})
    codes_N = np.searchsorted(np.array(vocabulary, dtype=str), labels_N) if vocabulary else np.zeros(len(labels_N))
    return np.where(labels_N == "", -1, codes_N).astype(np.int64), vocabulary


def labels_problem(codes_N, n):
    """Why coherence cannot be measured on these labels with top ``n`` images (a short reason), or None."""
    if len(codes_N) == 0 or (codes_N < 0).all():
        return NO_LABELS
    missing = int((codes_N < 0).sum())
    if missing:
        return f"labels missing for {missing} of {len(codes_N)} images"
    if len(np.unique(codes_N)) < 2:
        return "one label only"
    if n > len(codes_N):
        return f"top {n} images asked of {len(codes_N)} images"
    return None


def label_counts(labels_KN, n_labels):
    """How often each label occurs in each row: ``counts_KL`` (one ``bincount`` over the rows, offset)."""
    rows = len(labels_KN)
    offsets = (np.arange(rows)[:, None] * n_labels + labels_KN).ravel()
    return np.bincount(offsets, minlength=rows * n_labels).reshape(rows, n_labels)


def majority(labels_KN, n_labels):
    """The most frequent label of each row and its count: ``(label_K, count_K)`` (ties: the smaller code)."""
    counts_KL = label_counts(labels_KN, n_labels)
    label_K = counts_KL.argmax(1)
    return label_K, counts_KL[np.arange(len(counts_KL)), label_K]


def null_majorities(codes_N, n, permutations, rng, chunk=128):
    """The majority label and count of ``permutations`` uniform random ``n``-subsets of the labels.

    Returns
    -------
    label_P, count_P : numpy.ndarray
    """
    n_labels = int(codes_N.max()) + 1
    labels, counts = [], []
    for start in range(0, permutations, chunk):
        rows = min(chunk, permutations - start)
        keys_RN = rng.random((rows, len(codes_N)))
        subset_Rn = np.argpartition(keys_RN, n - 1, axis=1)[:, :n]
        label, count = majority(codes_N[subset_Rn], n_labels)
        labels.append(label)
        counts.append(count)
    return np.concatenate(labels), np.concatenate(counts)


def permutation_p(observed_K, null_P, rng):
    """Randomised permutation p-values of ``observed_K`` against the null draws ``null_P`` (larger = rarer)."""
    null_sorted = np.sort(null_P)
    above = len(null_sorted) - np.searchsorted(null_sorted, observed_K, side="right")
    equal = np.searchsorted(null_sorted, observed_K, side="right") - np.searchsorted(null_sorted, observed_K)
    return (above + rng.random(len(observed_K)) * (equal + 1)) / (len(null_sorted) + 1)


def coherence(top_indices_Mnm, top_values_Mnm, labels_N, n, permutations, fdr, seed):
    """Label coherence of every (model, concept).

    Parameters
    ----------
    top_indices_Mnm, top_values_Mnm : numpy.ndarray
        ``(M, K, m)`` store indices of each concept's top images per model, largest code first, and those codes
        (``top_images.npz``; K >= n).
    labels_N : sequence of str
        Every image's label, in store order (``""``: none).
    n : int
        Top images per concept.
    permutations : int
        Null draws.
    fdr : float
        False-discovery rate of the Benjamini-Hochberg step.
    seed : int
        Seeds the null draws and the tie-breaks.

    Returns
    -------
    dict
        ``problem`` (why nothing was measured, or None); else per (model, concept) ``(M, m)`` arrays
        ``tested`` (bool), ``label`` (code, -1 untested), ``share``, ``enrichment``, ``p``, ``q`` (BH adjusted)
        and ``coherent`` (NaN or False where untested); ``vocabulary``; ``base_rate`` per label;
        ``null_share`` ``(P,)`` and ``null_label_probability`` per label.
    """
    codes_N, vocabulary = encode_labels(labels_N)
    problem = labels_problem(codes_N, n)
    if problem:
        return {"problem": problem}
    indices_Mnm = np.asarray(top_indices_Mnm)[:, :n]
    tested_Mm = (np.asarray(top_values_Mnm)[:, :n] > 0).all(1) & (indices_Mnm >= 0).all(1)
    n_models, _, m = indices_Mnm.shape
    rng = np.random.default_rng(seed)
    null_label_P, null_count_P = null_majorities(codes_N, n, permutations, rng)
    top_labels_Kn = codes_N[np.where(indices_Mnm >= 0, indices_Mnm, 0)].transpose(0, 2, 1).reshape(-1, n)
    label_K, count_K = majority(top_labels_Kn, len(vocabulary))
    base_rate_L = np.bincount(codes_N, minlength=len(vocabulary)) / len(codes_N)
    share_K = count_K / n
    p_K = permutation_p(count_K, null_count_P, rng)
    tested_K = tested_Mm.ravel()
    q_K = np.full(len(p_K), np.nan)
    if tested_K.any():
        q_K[tested_K] = false_discovery_control(p_K[tested_K], method="bh")

    def per_model(values, fill=np.nan):
        return np.where(tested_K, values, fill).reshape(n_models, m)

    return {
        "problem": None,
        "vocabulary": vocabulary,
        "base_rate": base_rate_L,
        "tested": tested_Mm,
        "label": per_model(label_K, -1).astype(np.int64),
        "share": per_model(share_K),
        "enrichment": per_model(share_K / base_rate_L[label_K]),
        "p": per_model(p_K),
        "q": q_K.reshape(n_models, m),
        "coherent": per_model(q_K <= fdr, False).astype(bool),
        "null_share": null_count_P / n,
        "null_label_probability": np.bincount(null_label_P, minlength=len(vocabulary)) / len(null_label_P),
    }


def agreement(label_Mm, tested_Mm):
    """For each concept, the largest number of models that share one top label, among those tested in it.

    Returns
    -------
    agreeing_m : numpy.ndarray
        Models sharing the most common top label (0 where none is tested).
    agreed_label_m : numpy.ndarray
        That label's code (-1 where none is tested; ties: the smaller code).
    """
    n_labels = int(max(label_Mm.max(), 0)) + 1
    labels_mM = np.where(tested_Mm, label_Mm, n_labels).T  # untested models vote for an extra label, dropped
    counts = label_counts(labels_mM, n_labels + 1)[:, :n_labels]
    agreed = counts.argmax(1)
    agreeing = counts[np.arange(len(counts)), agreed]
    return agreeing, np.where(agreeing > 0, agreed, -1)


def chance_all_agree(null_label_probability_L, n_models):
    """The chance that ``n_models`` independent null top labels are all one label: ``sum_l q_l^M``."""
    return float(np.sum(np.asarray(null_label_probability_L) ** n_models))


def agreement_test(all_agree_K, chance):
    """One-sided exact binomial test that the share of concepts whose models all agree exceeds ``chance``.

    Returns
    -------
    share : float
    p : float
        NaN with no concepts.
    """
    k, n = int(np.sum(all_agree_K)), len(all_agree_K)
    if n == 0:
        return float("nan"), float("nan")
    return k / n, float(binomtest(k, n, chance, alternative="greater").pvalue)
