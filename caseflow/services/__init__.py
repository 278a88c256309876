"""The only code that changes data: one function per use case, one transaction each."""
