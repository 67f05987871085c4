"""Who sets each condition key: the caller, or AWS from facts the caller cannot choose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# principal:      AWS sets it from the calling principal (its ARN, account, type).
# organization:   AWS sets it from the organization of the principal's account; absent for
#                 service principals and for accounts outside any organization.
# service-source: an AWS service sets it when it calls as a service principal on behalf of a
#                 resource (absent on every other request); its account is the resource owner's,
#                 who may be anyone able to point that service at the key.
# via-service:    set when an AWS service calls on the principal's behalf; any principal can
#                 choose to go through a service, so only the form (an endpoint name) is fixed.
# time:           AWS sets it from the request's time (or the credentials' issue and MFA times);
#                 the clock is a window the question states, never the caller's choice.
# resource:       AWS sets it from the key.
# request:        the caller chooses it (every key not listed here is treated so).
Source = Literal[
    "principal", "organization", "service-source", "via-service", "time", "resource", "request"
]

_IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"
_KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"
_DEPUTY = "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where a condition key's value comes from, and the page that says so."""

    source: Source
    doc: str


CONTEXT_KEYS: dict[str, KeySource] = {
    "aws:principalarn": KeySource("principal", f"{_IAM}#condition-keys-principalarn"),
    "aws:principalaccount": KeySource("principal", f"{_IAM}#condition-keys-principalaccount"),
    "aws:principaltype": KeySource("principal", f"{_IAM}#condition-keys-principaltype"),
    "aws:principalisawsservice": KeySource(
        "principal", f"{_IAM}#condition-keys-principalisawsservice"
    ),
    "aws:username": KeySource("principal", f"{_IAM}#condition-keys-username"),
    "kms:calleraccount": KeySource("principal", f"{_KMS}#conditions-kms-caller-account"),
    "aws:principalorgid": KeySource("organization", f"{_IAM}#condition-keys-principalorgid"),
    "aws:principalorgpaths": KeySource("organization", f"{_IAM}#condition-keys-principalorgpaths"),
    "aws:sourcearn": KeySource("service-source", f"{_IAM}#condition-keys-sourcearn"),
    "aws:sourceaccount": KeySource("service-source", f"{_IAM}#condition-keys-sourceaccount"),
    "aws:sourceowner": KeySource("service-source", _DEPUTY),
    "aws:sourceorgid": KeySource("service-source", f"{_IAM}#condition-keys-sourceorgid"),
    "aws:sourceorgpaths": KeySource("service-source", f"{_IAM}#condition-keys-sourceorgpaths"),
    "kms:viaservice": KeySource("via-service", f"{_KMS}#conditions-kms-via-service"),
    "aws:resourceaccount": KeySource("resource", f"{_IAM}#condition-keys-resourceaccount"),
    "aws:currenttime": KeySource("time", f"{_IAM}#condition-keys-currenttime"),
    "aws:epochtime": KeySource("time", f"{_IAM}#condition-keys-epochtime"),
    "aws:tokenissuetime": KeySource("time", f"{_IAM}#condition-keys-tokenissuetime"),
    "aws:multifactorauthage": KeySource("time", f"{_IAM}#condition-keys-multifactorauthage"),
}

_DEFAULT = KeySource("request", f"{_IAM}#condition-keys-request-properties")


def key_source(key: str) -> KeySource:
    """The source of a condition key (any case); unlisted keys are the caller's to choose."""
    return CONTEXT_KEYS.get(key.lower(), _DEFAULT)
