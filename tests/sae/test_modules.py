import torch

from usae.sae.modules import Dictionary, TopKSAE, UniversalSAE, dense_codes, sparse_decode


def _identity_sae(dim, k):
    """A SAE whose encoder is the identity (BatchNorm in eval mode normalising exactly by 1)."""
    sae = TopKSAE(dim, dim, k)
    with torch.no_grad():
        sae.encoder.linear.weight.copy_(torch.eye(dim))
        sae.encoder.linear.bias.zero_()
        sae.encoder.norm.running_var.fill_(1.0 - sae.encoder.norm.eps)
    return sae.eval()


def test_topk_keeps_the_k_largest_positive_pre_codes():
    sae = _identity_sae(4, 2)
    pre_codes, codes = sae.encode(torch.tensor([[3.0, -1.0, 2.0, 0.5]]))
    assert torch.allclose(pre_codes, torch.tensor([[3.0, -1.0, 2.0, 0.5]]))
    assert torch.allclose(codes, torch.tensor([[3.0, 0.0, 2.0, 0.0]]))


def test_relu_before_topk_never_selects_negatives():
    sae = _identity_sae(3, 2)
    _, codes = sae.encode(torch.tensor([[-3.0, -1.0, 0.5]]))
    assert torch.allclose(codes, torch.tensor([[0.0, 0.0, 0.5]]))


def test_dictionary_rows_are_normalised_on_every_forward():
    dictionary = Dictionary(3, 2)
    with torch.no_grad():
        dictionary.weight.copy_(torch.tensor([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0]]))
    atoms = dictionary()
    assert torch.allclose(atoms[0], torch.tensor([0.6, 0.8]))
    assert torch.allclose(atoms[1], torch.tensor([0.0, 1.0]))
    assert torch.equal(atoms[2], torch.zeros(2))  # the 1e-8 guard keeps a zero row finite


def test_dictionary_init_is_standard_normal():
    torch.manual_seed(0)
    weight = Dictionary(512, 256).weight
    assert abs(weight.mean().item()) < 0.01 and abs(weight.std().item() - 1.0) < 0.01


def test_sparse_decode_equals_dense_matmul():
    torch.manual_seed(0)
    dictionary = torch.randn(10, 6)
    values = torch.rand(5, 3)
    indices = torch.stack([torch.randperm(10)[:3] for _ in range(5)])
    dense = dense_codes(values, indices, 10)
    assert torch.allclose(sparse_decode(values, indices, dictionary), dense @ dictionary, atol=1e-6)


def test_universal_sae_crosses_encoders_and_decoders():
    usae = UniversalSAE({"a": 4, "b": 6}, n_concepts=8, k=2).eval()
    _, codes = usae.encode("a", torch.randn(3, 4))
    assert usae.decode("b", codes).shape == (3, 6)
    assert usae.dims == {"a": 4, "b": 6} and (codes > 0).sum(1).le(2).all()


def test_a_smaller_dictionary_init_keeps_the_atoms_directions():
    torch.manual_seed(0)
    official = UniversalSAE({"a": 4, "b": 6}, n_concepts=8, k=2)
    torch.manual_seed(0)
    small = UniversalSAE({"a": 4, "b": 6}, n_concepts=8, k=2, init_std=0.01)
    for name in ["a", "b"]:
        raw, raw_small = official.saes[name].dictionary.weight, small.saes[name].dictionary.weight
        torch.testing.assert_close(raw_small, raw * 0.01)
        torch.testing.assert_close(
            small.saes[name].dictionary(), official.saes[name].dictionary(), rtol=1e-5, atol=1e-6
        )
