"""Where images come from: dataset sources, the embedded and registry-package photographs, split manifests."""
