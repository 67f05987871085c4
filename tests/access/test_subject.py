"""The Subject type: its account, the name resource policies use for it, and unknown sources."""

from __future__ import annotations

from kmsguard.access.subject import PolicySource, Subject

ALLOW = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def test_account_is_read_from_the_arn_never_guessed() -> None:
    assert Subject("arn:aws:iam::123456789012:user/u", "user").account == "123456789012"
    assert Subject(None, "user").account is None
    assert Subject("arn:aws:iam::12345678901:user/u", "user").account is None


def test_a_session_is_named_by_its_role_in_resource_policies() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/reader/s1"
    assert Subject(session, "assumed-role").policy_principal == (
        "arn:aws:iam::123456789012:role/reader"
    )
    with_path = Subject(session, "assumed-role", role_arn="arn:aws:iam::123456789012:role/p/reader")
    assert with_path.policy_principal == "arn:aws:iam::123456789012:role/p/reader"
    user = "arn:aws:iam::123456789012:user/u"
    assert Subject(user, "user").policy_principal == user


def test_an_unreadable_policy_makes_the_subject_not_fully_known() -> None:
    read = PolicySource("inline policy p", ALLOW)
    assert Subject("arn:aws:iam::123456789012:user/u", "user", (read,)).fully_known
    gap = PolicySource("managed policy m", None, "GetPolicyVersion was refused")
    assert not gap.known
    assert not Subject("arn:aws:iam::123456789012:user/u", "user", (read, gap)).fully_known
    assert not Subject("arn:aws:iam::123456789012:user/u", "user", boundary=gap).fully_known
