"""kmsguard: a KMS customer managed key guarding a DynamoDB table, with guardrails and proof."""
