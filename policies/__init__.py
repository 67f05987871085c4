"""The kmsguard CrossGuard policy pack: rule modules, shared helpers and the pack builder."""
