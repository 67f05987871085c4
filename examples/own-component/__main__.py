"""Two tables through the program's own component; the audit table's key does not rotate."""

import pulumi
from encrypted_table import EncryptedTable

config = pulumi.Config()

payments = EncryptedTable("payments", rotate_key=True)
audit = EncryptedTable("audit", rotate_key=config.get_bool("auditRotation") is not False)

pulumi.export("paymentsTable", payments.table.name)
pulumi.export("auditTable", audit.table.name)
