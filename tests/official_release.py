"""A small stand-in for the authors' released USAE, written from the layout their code saves (no file of theirs).

``write_release`` writes ``checkpoints/config_dino_siglip_vit.yaml`` and one
``checkpoints/uni_<Model>_checkpoint_29.pth`` per model: ``torch.save`` of ``{"epoch", "model_state_dict",
"optimizer_state_dict", "learning_rate"}`` with overcomplete's TopKSAE keys (mlp_bn_1 encoder, raw
dictionary ``_weights``), random tensors of small sizes.
"""

from collections import OrderedDict

import torch
import yaml

DIMS = {"SigLIP": 16, "DinoV2": 8, "ViT": 12}  # the release's model_zoo order
STATS = {"SigLIP": (-0.03, 2.2), "DinoV2": (0.033, 2.5), "ViT": (-0.029, 2.1)}
M, K = 32, 4  # m = global.exp_factor (2) x global.input_shape (16, the widest dim)


def released_state(d, generator, m=None):
    """A TopKSAE ``model_state_dict`` in overcomplete's layout, random entries (BatchNorm as if trained)."""
    m = m or M

    def randn(*shape):
        return torch.randn(*shape, generator=generator)

    return OrderedDict(
        [
            ("encoder.final_block.0.weight", randn(m, d)),
            ("encoder.final_block.0.bias", randn(m)),
            ("encoder.final_block.1.weight", 0.5 + torch.rand(m, generator=generator)),
            ("encoder.final_block.1.bias", randn(m)),
            ("encoder.final_block.1.running_mean", randn(m)),
            ("encoder.final_block.1.running_var", 0.5 + torch.rand(m, generator=generator)),
            ("encoder.final_block.1.num_batches_tracked", torch.tensor(1234)),
            ("dictionary._weights", 3 * randn(m, d)),  # not normalised, as released
        ]
    )


def released_config(folder="checkpoints", dims=None, stats=None, m=None, k=K):
    """The release's yaml, as a dict, for ``dims`` and ``stats`` (default :data:`DIMS`, :data:`STATS`) and
    ``m`` concepts (default :data:`M`, a multiple of the widest model's dim)."""
    dims, stats = dims or DIMS, stats or STATS
    width = max(dims.values())
    factor = (m or M) // width
    return {
        "global": {
            "exp_factor": factor,
            "input_shape": width,
            "batch_size": 32,
            "nb_epochs": 30,
            "standardize": True,
            "divide_norm": False,
            "use_class_tokens": False,
            "run_name": "${model_1}_${model_2}_ex${exp_factor}",
        },
        "viz": {"batch_size": 100, "set": "val"},
        "sae_params": {
            "encoder_module": "mlp_bn_1",
            "dictionary_initializer": None,
            "data_initializer": None,
            "dictionary_normalization": "l2",
            "top_k": k,
        },
        "model_zoo": {
            name: {
                "checkpoint_path": f"{folder}/uni_{name}_checkpoint_29.pth",
                "input_shape": d,
                "num_tokens": 196,
                "og_model": name,
                "model_mean": stats[name][0],
                "model_std": stats[name][1],
            }
            for name, d in dims.items()
        },
    }


def write_config(path, config):
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_release(root, seed=0, dims=None, stats=None, m=None, k=K):
    """Write a release under ``root/checkpoints``; return ``(yaml path, {model: model_state_dict})``.

    ``dims``, ``stats``, ``m`` and ``k`` as in :func:`released_config` (default the small stand-in's).
    """
    folder = root / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    states = {}
    for index, (name, d) in enumerate((dims or DIMS).items()):
        states[name] = released_state(d, generator, m)
        optimizer = {
            "state": {0: {"step": torch.tensor(100.0), "exp_avg": torch.zeros(4, d)}},
            "param_groups": [{"lr": 1e-6, "betas": (0.9, 0.999), "eps": 1e-8, "params": list(range(8))}],
        }
        rate = torch.tensor(1e-6) if index == 0 else 1e-6  # the official scheduler may leave a 0-d tensor
        torch.save(
            {"epoch": 29, "model_state_dict": states[name], "optimizer_state_dict": optimizer, "learning_rate": rate},
            folder / f"uni_{name}_checkpoint_29.pth",
        )
    return write_config(
        folder / "config_dino_siglip_vit.yaml", released_config(dims=dims, stats=stats, m=m, k=k)
    ), states
