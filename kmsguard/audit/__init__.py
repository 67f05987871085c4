"""`kmsguard-audit`: the policy pack and the prover over what an AWS account already holds."""
