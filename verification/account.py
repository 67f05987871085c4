"""What the account holds: its users, groups, roles and their policies, as IAM lists them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmsguard.access.authorization_details import LISTED, merge_pages, subjects
from kmsguard.access.subject import Subject


class Unreadable(Exception):
    """An attached policy whose document the listing does not hold and IAM does not return."""


def authorization_details(iam: Any) -> dict[str, list[Any]]:
    """Users, groups, roles and customer managed policies of the account, every page merged."""
    pages = iam.get_paginator("get_account_authorization_details").paginate(Filter=list(LISTED))
    return merge_pages(pages)


def identities(
    details: Mapping[str, Any], fetch_policy: Callable[[str], Any] | None = None
) -> list[Subject]:
    """Each user (with its groups' policies) and role of the listing, with its policy documents.

    `fetch_policy(arn)` returns the default version's document of a managed policy the listing
    does not hold; without it such a policy raises Unreadable.
    """
    found = subjects(details, fetch_policy)
    for subject in found:
        bounded = () if subject.boundary is None else (subject.boundary,)
        for source in (*subject.identity_policies, *bounded):
            if not source.known:
                raise Unreadable(source.problem)
    return found
