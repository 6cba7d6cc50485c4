"""The chaos stage."""
