"""A one-rule pack: the cost of the protocol and the SDK alone."""

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)


def _has_type(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type:
        report("resource has no type")


PolicyPack(
    name="trivial",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        ResourceValidationPolicy(
            name="has-type", description="Resources have a type.", validate=_has_type
        )
    ],
)
