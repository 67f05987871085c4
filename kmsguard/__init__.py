"""kmsguard: a KMS customer managed key guarding a DynamoDB table, with guardrails and proof."""

# The one place the version is stated: the distribution, the component provider and the
# policy pack's PulumiPolicy.yaml are built from or checked against it.
__version__ = "0.1.0"
