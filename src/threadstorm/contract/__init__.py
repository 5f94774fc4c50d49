"""The thread-safety contract: which concurrent uses are supported, from a TOML policy."""
