"""vaerepro: a DVC-pipeline reproduction of Liu's VAE survey."""
