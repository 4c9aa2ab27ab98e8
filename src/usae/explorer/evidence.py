"""The explorer's concept evidence: each concept's labels among every model's top images (label coherence) and
its seed stability, as the site's panels show them (docs/concept_evidence.md); and the rounding of the site's
numbers."""

import numpy as np


def rounded(values, digits=4):
    """Floats with ``digits`` significant digits (NaN and inf as None), for compact JSON."""
    return [None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=float)]


def coherence_meta(evidence):
    """What the concept panels say of label coherence: whether it ran (or why not), its top n, FDR and null."""
    if not evidence["run"]:
        return {"run": False, "reason": evidence["reason"]}
    keys = ("top_images", "fdr", "permutations", "null_label_share_mean", "null_label_share_95")
    return {"run": True, **{key: evidence[key] for key in keys}}


def has_evidence(content):
    """Whether the site shows labels or stability: label coherence ran, or the frame has seed stability."""
    return content.label_counts is not None or "joint_stability" in content.frame.columns


def evidence_of(content, k):
    """Concept ``k``'s label coherence per tested model (``{model: {"counts": [[label, count], ...], "label",
    "share", "enrichment", "p", "coherent"}}``) and, with replicates, its seed stability per model
    (``"atom_stability"``, ``"code_stability"``)."""
    row, out = content.frame.iloc[k], {}
    for name in content.names:
        entry = {
            key: rounded([row[f"{key}_{name}"]])[0]
            for key in ("atom_stability", "code_stability")
            if f"{key}_{name}" in row
        }
        if content.label_counts is not None and name in content.label_counts[k]:
            entry.update(
                counts=content.label_counts[k][name],
                label=str(row[f"label_{name}"]),
                share=rounded([row[f"label_share_{name}"]])[0],
                enrichment=rounded([row[f"label_enrichment_{name}"]])[0],
                p=rounded([row[f"label_p_{name}"]])[0],
                coherent=bool(row[f"coherent_{name}"]),
            )
        out[name] = entry
    return out
