"""Subcommands of feature modules; each module defines ``register(subparsers)``."""
