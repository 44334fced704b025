"""Ledger: the transfers' per-account indexes gain created_at: (account, created_at, amount).

A statement reads an account's transfers of a period and the sum of those before it (its opening balance).
With (account, amount) alone, both visited every transfer the account ever had and read its row for the
date: ten years of history for a year's statement, most of a batch's reading time (bench figure 4). With
created_at second the period is a range of the index and the opening sum is read from the index alone, and
an account's whole sum (the ledger check, I3) still is.

Revision ID: c2e8f4a6b1d3
Revises: 3c9d5e8a1f27
Create Date: 2026-12-07 06:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c2e8f4a6b1d3'
down_revision = '3c9d5e8a1f27'
branch_labels = None
depends_on = None


def upgrade():
    for side in ('debit', 'credit'):
        op.drop_index(f'ix_transfers_{side}_amount', table_name='transfers')
        op.create_index(f'ix_transfers_{side}_created_amount', 'transfers',
                        [f'{side}_account_id', 'created_at', 'amount'], unique=False)


def downgrade():
    for side in ('debit', 'credit'):
        op.drop_index(f'ix_transfers_{side}_created_amount', table_name='transfers')
        op.create_index(f'ix_transfers_{side}_amount', 'transfers', [f'{side}_account_id', 'amount'], unique=False)
