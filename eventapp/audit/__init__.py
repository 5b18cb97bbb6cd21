"""Who did what with personal data and accounts: the audit log organisers and the DPO read."""
