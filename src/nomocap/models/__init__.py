"""Networks: the joint-space denoiser (MDM-style), the motion VAE and latent denoiser, LoRA glue."""
