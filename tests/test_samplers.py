"""Samplers against independent oracles: diffusers' schedulers, closed forms, torch.distributions."""

import math

import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

from nomocap.diffusion.guidance import guided_prediction
from nomocap.diffusion.samplers import DDIMSampler, DDPMSampler, DPMSolverSampler, gaussian_log_prob, make_sampler
from nomocap.diffusion.schedules import NoiseSchedule

SHAPE = (3, 16, 5)


def fake_x0(x, t):
    """A deterministic stand-in for a denoiser's clean-sample prediction."""
    return 0.6 * torch.tanh(x) + 0.05 * torch.sin(torch.as_tensor(float(t)))


def test_cosine_schedule_matches_diffusers():
    ours = NoiseSchedule.cosine(1000).betas
    theirs = DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2").betas.double()
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("sde", [False, True])
def test_dpm_solver_matches_diffusers(sde):
    schedule = NoiseSchedule.cosine(1000)
    ours = DPMSolverSampler(schedule, 10, sde=sde)
    theirs = DPMSolverMultistepScheduler(
        beta_schedule="squaredcos_cap_v2", algorithm_type="sde-dpmsolver++" if sde else "dpmsolver++",
        solver_order=2, prediction_type="sample", timestep_spacing="trailing", final_sigmas_type="zero")
    theirs.alphas_cumprod = schedule.alphas_cumprod.clone()  # diffusers' own are float32 (1e-4 off at t=999)
    theirs.set_timesteps(10)
    assert theirs.timesteps.tolist() == ours.timesteps.tolist()
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    xa, xb, prev_x0 = x.clone(), x.clone(), None
    for i, t in enumerate(ours.timesteps):
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(100 + i), dtype=torch.float64)
        out = ours.step(fake_x0(xa, t), i, xa, generator=torch.Generator().manual_seed(100 + i), prev_x0=prev_x0)
        xa, prev_x0 = out.prev_sample, out.x0
        xb = theirs.step(fake_x0(xb, t), t, xb, variance_noise=noise).prev_sample
        torch.testing.assert_close(xa, xb.to(xa.dtype), atol=1e-5, rtol=1e-5)
    assert not out.trainable  # the last step lands deterministically on sigma 0


def test_ddim_matches_diffusers():
    schedule = NoiseSchedule.cosine(1000)
    ours = DDIMSampler(schedule, 10, eta=1.0)
    theirs = DDIMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="sample", timestep_spacing="trailing",
                           clip_sample=False, set_alpha_to_one=True)
    theirs.alphas_cumprod = schedule.alphas_cumprod.clone()
    theirs.set_timesteps(10)
    assert theirs.timesteps.tolist() == ours.timesteps.tolist()
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    xa, xb = x.clone(), x.clone()
    for i, t in enumerate(ours.timesteps):
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(100 + i), dtype=torch.float64)
        out = ours.step(fake_x0(xa, t), i, xa, generator=torch.Generator().manual_seed(100 + i))
        xb = theirs.step(fake_x0(xb, t), t, xb, eta=1.0, variance_noise=noise).prev_sample
        torch.testing.assert_close(out.prev_sample, xb, atol=1e-6, rtol=1e-6)
        xa = out.prev_sample


def test_ddpm_equals_ddim_eta_one_and_posterior_closed_form():
    schedule = NoiseSchedule.linear(1000)
    ddpm, ddim = DDPMSampler(schedule, 1000), DDIMSampler(schedule, 1000, eta=1.0)
    x = torch.randn(SHAPE, dtype=torch.float64)
    x0 = torch.randn(SHAPE, dtype=torch.float64)
    for i in (0, 10, 500, 998):
        m1, s1 = ddpm.mean_std(x0, i, x, None)
        m2, s2 = ddim.mean_std(x0, i, x, None)
        torch.testing.assert_close(m1, m2)
        torch.testing.assert_close(torch.as_tensor(s1), torch.as_tensor(s2))
        # Full-schedule DDPM: posterior variance beta_t (1 - abar_{t-1}) / (1 - abar_t) (Ho et al. eq. 7).
        t = int(ddpm.timesteps[i])
        abar = schedule.alphas_cumprod
        expected = schedule.betas[t] * (1 - abar[t - 1]) / (1 - abar[t])
        assert float(s1) ** 2 == pytest.approx(float(expected), rel=1e-9)


def test_sde_step_mean_std_closed_form():
    schedule = NoiseSchedule.cosine(1000)
    sampler = DPMSolverSampler(schedule, 10, sde=True)
    x, x0 = torch.randn(SHAPE, dtype=torch.float64), torch.randn(SHAPE, dtype=torch.float64)
    out = sampler.step(x0, 0, x, generator=torch.Generator().manual_seed(0))
    abar_s, abar_t = schedule.alphas_cumprod[sampler.timesteps[0]], schedule.alphas_cumprod[sampler.timesteps[1]]
    alpha_s, sigma_s, alpha_t, sigma_t = abar_s.sqrt(), (1 - abar_s).sqrt(), abar_t.sqrt(), (1 - abar_t).sqrt()
    h = math.log(alpha_t / sigma_t) - math.log(alpha_s / sigma_s)
    mean = sigma_t / sigma_s * math.exp(-h) * x + alpha_t * (1 - math.exp(-2 * h)) * x0
    torch.testing.assert_close(out.mean, mean)
    assert float(out.std) == pytest.approx(float(sigma_t * math.sqrt(1 - math.exp(-2 * h))))
    noise = torch.randn(SHAPE, dtype=torch.float64)  # explicit noise replaces the generator's draw
    torch.testing.assert_close(sampler.step(x0, 0, x, noise=noise).prev_sample, mean + out.std * noise)


@pytest.mark.parametrize("name", ["ddim", "ddpm", "sde-dpm++"])
def test_log_prob_matches_torch_distributions_and_rescoring(name):
    sampler = make_sampler(name, NoiseSchedule.cosine(1000), 10)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    prev_x0 = torch.randn(SHAPE)
    out = sampler.step(fake_x0(x, 5), 3, x, generator=torch.Generator().manual_seed(4), prev_x0=prev_x0)
    reference = torch.distributions.Normal(out.mean.double(), out.std.double()).log_prob(out.prev_sample.double())
    torch.testing.assert_close(out.log_prob.double(), reference.flatten(1).mean(1), atol=1e-6, rtol=1e-6)
    again = sampler.step(fake_x0(x, 5), 3, x, prev_sample=out.prev_sample, prev_x0=prev_x0)
    assert (again.log_prob - out.log_prob).abs().max() < 1e-6
    assert again.log_prob.dtype == torch.float32


def test_log_prob_ignores_padded_frames():
    x, mean = torch.randn(2, 6, 4), torch.zeros(2, 6, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1] * 6], dtype=torch.bool)
    x_noisy_pad = x.clone()
    x_noisy_pad[0, 3:] = 100.0
    a = gaussian_log_prob(x, mean, torch.tensor(0.5), mask)
    b = gaussian_log_prob(x_noisy_pad, mean, torch.tensor(0.5), mask)
    torch.testing.assert_close(a, b)
    expected = torch.distributions.Normal(0.0, 0.5).log_prob(x[0, :3]).mean()
    torch.testing.assert_close(a[0], expected)


def test_classifier_free_guidance_is_one_batched_forward():
    calls = []

    def model(x, t, cond, mask=None):
        calls.append(x.shape[0])
        return x * 0 + cond[:, None, :1]

    x, t = torch.zeros(2, 4, 1), torch.zeros(2, dtype=torch.long)
    cond, null = torch.tensor([[2.0], [3.0]]), torch.tensor([[1.0]])
    out = guided_prediction(model, x, t, cond, null, 2.5, mask=torch.ones(2, 4, dtype=torch.bool))
    assert calls == [4]
    torch.testing.assert_close(out[:, 0, 0], 1.0 + 2.5 * (cond[:, 0] - 1.0))
