"""Universality and importance of concepts (docs/method.md, "Metrics"), accumulated over batches.

Only per-concept counters are kept -- ``(M, m)`` firing counts, ``(m,)`` co-firing counts, ``(M, M, m)``
pairwise co-firing counts, ``(M, m)`` code sums and a running top-n of images per concept -- so memory does
not grow with the number of evaluation tokens (the official code holds every token's dense codes).
"""

import math

import numpy as np
import torch


def firing_entropy(fires_Mm):
    """Normalised entropy of where each concept fires: ``-(1/log M) sum_i p_i log p_i``.

    Parameters
    ----------
    fires_Mm : numpy.ndarray
        ``|F_k^(i)|``: tokens on which concept k fires for model i.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` in [0, 1]; 0 for a concept that never fires.
    """
    fires_Mm = np.asarray(fires_Mm, dtype=np.float64)
    totals_m = fires_Mm.sum(0)
    p_Mm = np.divide(fires_Mm, totals_m, out=np.zeros_like(fires_Mm), where=totals_m > 0)
    terms = np.where(p_Mm > 0, p_Mm * np.log(np.where(p_Mm > 0, p_Mm, 1.0)), 0.0)
    return -terms.sum(0) / math.log(fires_Mm.shape[0])


def cofire_proportion(cofires_m, fires_Mm):
    """``|C_k| / |F_k^(i)|`` per model ``(M, m)``; 0 where the concept never fires for that model."""
    fires_Mm = np.asarray(fires_Mm, dtype=np.float64)
    cofires = np.broadcast_to(np.asarray(cofires_m, dtype=np.float64), fires_Mm.shape)
    return np.divide(cofires, fires_Mm, out=np.zeros_like(fires_Mm), where=fires_Mm > 0)


def concept_energy(mean_codes_Mm, atom_norms_Mm, power=1):
    """Importance ``|| E_x[Z_k(x)] D_k ||`` per model ``(M, m)`` (``power=2``: the paper's squared form).

    ``E_x[Z_k]`` is a scalar per concept, so the norm is ``E_x[Z_k] * ||D_k||`` (codes are non-negative).
    """
    return (np.asarray(mean_codes_Mm) * np.asarray(atom_norms_Mm)) ** power


def loglog_fit(x, y):
    """Pearson r and slope of ``log10 y`` against ``log10 x`` over points where both are positive.

    Returns
    -------
    dict
        ``{"r", "slope", "n"}``; r and slope are NaN with fewer than 3 points.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = (x > 0) & (y > 0)
    if keep.sum() < 3:
        return {"r": float("nan"), "slope": float("nan"), "n": int(keep.sum())}
    lx, ly = np.log10(x[keep]), np.log10(y[keep])
    if lx.std() == 0 or ly.std() == 0:
        return {"r": float("nan"), "slope": float("nan"), "n": int(keep.sum())}
    return {"r": float(np.corrcoef(lx, ly)[0, 1]), "slope": float(np.polyfit(lx, ly, 1)[0]), "n": int(keep.sum())}


class ConceptAccumulator:
    """Streaming firing, co-firing, code-sum and top-image counters of a universal SAE's concepts.

    Beyond the paper's counters, ``pair_fires`` counts, per concept, the tokens on which each two models both
    fire it: whether a concept fires in two models *on the same tokens*, which firing counts alone cannot say
    (a latent that two encoders fire for different things fires often in both, but rarely together).

    Parameters
    ----------
    names : list of str
        Models, in order.
    n_concepts : int
    threshold : float
        A concept fires on a token when its code exceeds this (tau = 0.1).
    top_images : int
        Images kept per (model, concept), ranked by the concept's largest code over the image's tokens.
    """

    def __init__(self, names, n_concepts, threshold=0.1, top_images=8):
        self.names, self.threshold, self.top_images = list(names), threshold, top_images
        n_models = len(self.names)
        self.fires = torch.zeros(n_models, n_concepts, dtype=torch.float64)
        self.cofires = torch.zeros(n_concepts, dtype=torch.float64)
        self.pair_fires = torch.zeros(n_models, n_models, n_concepts, dtype=torch.float64)
        self.code_sums = torch.zeros(n_models, n_concepts, dtype=torch.float64)
        self.top_values = torch.full((n_models, top_images, n_concepts), -1.0)
        self.top_indices = torch.full((n_models, top_images, n_concepts), -1, dtype=torch.long)
        self.n_tokens = 0

    def update(self, codes, first_image, tokens_per_image):
        """Add one batch.

        Parameters
        ----------
        codes : dict of str to torch.Tensor
            Each model's codes ``(B, m)`` from its own encoder, for the same tokens (B = images x T).
        first_image : int
            Store index of the batch's first image (the batch covers consecutive images).
        tokens_per_image : int
        """
        every, seen = None, []
        for i, name in enumerate(self.names):
            codes_Bm = codes[name].float().cpu()
            fires_Bm = codes_Bm > self.threshold
            fired_m = fires_Bm.sum(0)
            self.fires[i] += fired_m
            # Earlier models' firings are compared again rather than kept: M bool (B, m) tensors would add a
            # quarter of the codes' memory.
            for j, earlier_Bm in enumerate(seen):
                both_m = ((earlier_Bm > self.threshold) & fires_Bm).sum(0)
                self.pair_fires[i, j] += both_m
                self.pair_fires[j, i] += both_m
            self.pair_fires[i, i] += fired_m
            seen.append(codes_Bm)
            self.code_sums[i] += codes_Bm.sum(0, dtype=torch.float64)
            every = fires_Bm if every is None else every & fires_Bm
            per_image_Nm = codes_Bm.view(-1, tokens_per_image, codes_Bm.shape[1]).amax(1)
            indices_Nm = torch.arange(first_image, first_image + len(per_image_Nm)).unsqueeze(1).expand_as(per_image_Nm)
            values = torch.cat([self.top_values[i], per_image_Nm])
            top = torch.topk(values, self.top_images, dim=0)
            self.top_values[i] = top.values
            self.top_indices[i] = torch.gather(torch.cat([self.top_indices[i], indices_Nm]), 0, top.indices)
        self.cofires += every.sum(0)
        self.n_tokens += len(codes[self.names[0]])

    def top_arrays(self, image_ids):
        """The top images as the arrays of a ``top_images.npz``: ``indices`` and ``values`` ``(M, n, m)``
        (store index and largest code over the image's tokens of each concept's n top images, largest
        first; -1 past the last image of a split of fewer than n),
        ``models`` ``(M,)`` and ``image_ids`` (the store's, to check a manifest's order against)."""
        return {
            "indices": self.top_indices.numpy(),
            "values": self.top_values.numpy(),
            "models": np.array(self.names),
            "image_ids": np.array(image_ids),
        }

    def table(self, atom_norms_Mm, energy_power=1):
        """Per-concept statistics as arrays.

        Parameters
        ----------
        atom_norms_Mm : array-like
            Norm of every concept's dictionary atom per model (1 for row-normalised dictionaries).
        energy_power : {1, 2}

        Returns
        -------
        dict
            ``fires`` (M, m), ``cofires`` (m,), ``entropy`` (m,), ``cofire_proportion`` (M, m),
            ``fires_with_top`` (M, m): tokens on which the model fires the concept together with the concept's
            most-firing model (the first, on a tie; that model's own count on its row), ``energy`` (M, m),
            ``energy_total`` (m,), ``dead`` (m,) bool.
        """
        fires = self.fires.numpy()
        top_m = fires.argmax(0)
        concepts = np.arange(fires.shape[1])
        mean_codes = (self.code_sums / max(self.n_tokens, 1)).numpy()
        energy = concept_energy(mean_codes, atom_norms_Mm, energy_power)
        return {
            "fires": fires,
            "cofires": self.cofires.numpy(),
            "entropy": firing_entropy(fires),
            "cofire_proportion": cofire_proportion(self.cofires.numpy(), fires),
            "fires_with_top": self.pair_fires.numpy()[top_m, :, concepts].T,
            "energy": energy,
            "energy_total": energy.sum(0),
            "dead": fires.sum(0) == 0,
        }
