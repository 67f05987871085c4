"""The words of the pack's rules that kmsguard's own tools also report under, written once."""

# A rule module keeps its META next to its rule and takes these texts from here; the prover's
# CLI (`python -m kmsguard.access diff|public|readers --sarif`) reports its witnesses under the
# same rule with the same words, without importing the pack.

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleText:
    name: str
    description: str
    remediation: str
    severity: str  # low, medium, high, critical (the pack's Severity values)
    # The finding code of one witness of the prover (a request the rule refuses).
    witness_code: str


NO_NEW_ACCESS = RuleText(
    name="kms-key-policy-no-new-access",
    description=(
        "Given a baseline key policy (policy config baselineKeyPolicy), the planned key policy "
        "allows no request the baseline denies, as proved over every principal, action and "
        "condition value; each new kind of access is shown as a concrete request."
    ),
    remediation=(
        "Remove or narrow the statement that grants the reported request, or, if the new access "
        "is intended, update baselineKeyPolicy in the policy config after review."
    ),
    severity="high",
    witness_code="new-access",
)

NO_PUBLIC_PRINCIPAL = RuleText(
    name="kms-key-policy-no-public-principal",
    description=(
        "No request from a principal outside the key's account and the trusted accounts and "
        "organizations is allowed by the key policy, as proved over every principal, action "
        "and condition value (not only the principals the stack declares)."
    ),
    remediation=(
        "Name the principals explicitly, or restrict the statement with a condition the caller "
        "cannot choose (kms:CallerAccount, aws:PrincipalAccount, aws:PrincipalOrgID, "
        "aws:PrincipalArn; aws:SourceAccount or aws:SourceArn for a service principal), or add "
        "the other party to trustedAccounts / trustedOrganizations."
    ),
    severity="critical",
    witness_code="public-access",
)

TABLE_READERS = RuleText(
    name="dynamodb-table-readers-match-declared",
    description=(
        "Whoever can read a table's items, by any read path (items, queries and scans of the "
        "table and its indexes, PartiQL, the stream, exports and restores), is a declared "
        "reader: DynamoDB's side (identity policies and the table's or stream's resource-based "
        "policy) and the key's (kms:Decrypt through DynamoDB) proved together over every "
        "principal, account and condition value. The declared readers are the key users, the "
        "account's root, extraDeclaredReaders and the trusted accounts and organizations. A "
        "table or stream policy that opens any DynamoDB action to another account is a "
        "violation whatever the key says, and so is an export to another account's bucket."
    ),
    remediation=(
        "Narrow the table's or stream's resource-based policy (name the principals, or pin "
        "statements with aws:PrincipalAccount or aws:PrincipalOrgID), the key policy or the "
        "identity policy that lets the witness read, or declare the reader (a key user, "
        "extraDeclaredReaders, trustedAccounts, trustedOrganizations)."
    ),
    severity="critical",
    witness_code="undeclared-reader",
)
