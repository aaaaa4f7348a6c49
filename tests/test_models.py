import torch

from nomocap.models.lora import add_lora, trainable_parameters
from nomocap.models.mdm import MDM, MDMConfig


def tiny_mdm(patch=1):
    torch.manual_seed(0)
    return MDM(MDMConfig(feature_dim=12, text_dim=8, width=32, layers=2, heads=4, mlp_mult=2, dropout=0.0,
                         max_frames=40, patch=patch))


def _inputs(n=24):
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, n, 12, generator=g), torch.tensor([10, 900]), torch.randn(2, 8, generator=g)


def test_padding_does_not_leak_into_valid_frames():
    for patch in (1, 4):
        model = tiny_mdm(patch).eval()
        x, t, c = _inputs()
        mask = torch.ones(2, 24, dtype=torch.bool)
        mask[0, 16:] = False
        out = model(x, t, c, mask)
        x2 = x.clone()
        x2[0, 16:] = 123.0  # garbage in the padding
        out2 = model(x2, t, c, mask)
        torch.testing.assert_close(out[0, :16], out2[0, :16])
        torch.testing.assert_close(out[1], out2[1])


def test_condition_changes_output():
    model = tiny_mdm().eval()
    x, t, c = _inputs()
    assert (model(x, t, c) - model(x, t, c * 0)).abs().max() > 1e-4


def test_lora_changes_output_in_eval_mode_without_grad():
    model = tiny_mdm().eval()
    x, t, c = _inputs()
    with torch.no_grad():
        before = model(x, t, c)
    peft_model = add_lora(model, rank=4, alpha=4, init=False)  # random (non-zero) adapters
    peft_model.eval()
    with torch.no_grad():
        after = peft_model(x, t, c)
    assert (after - before).abs().max() > 1e-3


def test_only_lora_parameters_get_gradients():
    model = add_lora(tiny_mdm(), init=False)
    x, t, c = _inputs()
    model(x, t, c).square().mean().backward()
    named = dict(model.named_parameters())
    assert all("lora_" in n for n, p in named.items() if p.grad is not None)
    assert all(p.grad is not None for n, p in named.items() if "lora_" in n)
    assert len(trainable_parameters(model)) == 2 * 4 * 2  # A and B for qkv, proj, fc1, fc2 in 2 blocks
