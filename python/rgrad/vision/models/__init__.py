"""Models with torchvision's architectures and parameter names (filled in below)."""
