"""Rotating the keys of encrypted fields: every value re-encrypted under the newest key,
recorded in the system's audit chain."""

from __future__ import annotations

import sqlalchemy as sa

from ..database import write_transaction
from ..extensions import db
from ..security.fields import ENCRYPTED_COLUMNS, forget_keys, keyring
from .audit import SYSTEM_CHAIN, append_event
from .context import Actor


def reencrypt_fields(actor: Actor, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value that is not under the current (first) key, in
    batches of one transaction each; return how many values per column. Safe to run again
    after an interruption: values already under the current key are skipped."""
    forget_keys()
    ring = keyring()
    current = f"cf1:{ring.current_id}:"
    counts: dict[str, int] = {}
    for table_name, pk_name, column_name in ENCRYPTED_COLUMNS:
        # A lightweight table with a plain TEXT column: the stored ciphertext, untouched.
        table = sa.table(table_name, sa.column(pk_name, sa.Integer), sa.column(column_name, sa.Text))
        pk, column = table.c[pk_name], table.c[column_name]
        context = f"{table_name}.{column_name}"
        done, last_id = 0, 0
        while True:
            with write_transaction():
                rows = db.session.execute(
                    sa.select(pk, column).where(pk > last_id, column.is_not(None),
                                                sa.not_(column.startswith(current)))
                    .order_by(pk).limit(batch_size)
                ).all()
                for row_id, stored in rows:
                    db.session.execute(
                        sa.update(table).where(pk == row_id)
                        .values({column_name: ring.encrypt(ring.decrypt(stored, context), context)})
                    )
            if not rows:
                break
            done += len(rows)
            last_id = rows[-1][0]
        counts[context] = done
    with write_transaction():
        append_event(chain=SYSTEM_CHAIN, action="keys.rotated", actor=actor,
                     context={"key_id": ring.current_id, "reencrypted": counts})
    return counts
