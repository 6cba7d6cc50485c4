"""The contract stage."""
