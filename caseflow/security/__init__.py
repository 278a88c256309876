"""Security helpers owned by the trust area: audit-table guard, passwords, throttling,
field encryption."""
