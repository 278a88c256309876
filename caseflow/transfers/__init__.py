"""Transfers: registers imported from spreadsheets, case lists exported as files, and the
background jobs (with their progress) that carry the long ones."""
