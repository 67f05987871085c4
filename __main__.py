"""Pulumi entry point: everything lives in kmsguard.program."""

from kmsguard.program import main

main()
