"""The vision models: the registry, their loaders and preprocessing, token extraction, and weight readers."""
