"""Shop: idempotency keys of the stock forms (purchase, donation, stocktake, write-off).

Revision ID: c3a1e5d20b01
Revises: f6d4b8a53e34
Create Date: 2026-11-26 01:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a1e5d20b01'
down_revision = 'f6d4b8a53e34'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stock_form_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
        sa.Column('action', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=False),
        sa.Column('ref_id', sa.Integer(), nullable=False),
        sa.Column('payload_hash', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
        sa.Column('created_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
        sa.CheckConstraint("action IN ('purchase','donation','stocktake','write_off')",
                           name=op.f('ck_stock_form_keys_action_known')),
        sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_stock_form_keys_village_id_villages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_form_keys')),
        sa.UniqueConstraint('village_id', 'idempotency_key', name='uq_stock_form_keys_village_id_idempotency_key'),
        sqlite_strict=True,
    )


def downgrade():
    op.drop_table('stock_form_keys')
