"""Activation stores: the sharded on-disk format, extraction from images, and standardised batches."""
