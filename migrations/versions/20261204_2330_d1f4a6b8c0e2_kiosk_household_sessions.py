"""Kiosk: household sessions kept on the server (kiosk_sessions).

The household opened at a kiosk used to live only in the signed session cookie, so a copied cookie kept
opening it after 结束, a PIN change or a restart. Now the cookie holds a random token whose SHA-256 is
token_hash here; every kiosk request checks the row (ended_at, last_seen_at against the idle time).
Nothing to carry over: sessions opened before the upgrade simply end.

Revision ID: d1f4a6b8c0e2
Revises: c9e1f3a5b7d2
Create Date: 2026-12-04 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd1f4a6b8c0e2'
down_revision = 'c9e1f3a5b7d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kiosk_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('ended_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('end_reason', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.CheckConstraint("end_reason IS NULL OR end_reason IN ('finish','idle','replaced','pin_changed',"
                       "'card_reissued','device_revoked','household_gone')",
                       name=op.f('ck_kiosk_sessions_end_reason_known')),
    sa.CheckConstraint('(ended_at IS NULL AND end_reason IS NULL) '
                       'OR (ended_at IS NOT NULL AND end_reason IS NOT NULL)',
                       name=op.f('ck_kiosk_sessions_ended_with_reason')),
    sa.ForeignKeyConstraint(['device_id'], ['kiosk_devices.id'], name=op.f('fk_kiosk_sessions_device_id_kiosk_devices')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_kiosk_sessions_household_id_households')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_kiosk_sessions_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_sessions')),
    sa.UniqueConstraint('token_hash', name='uq_kiosk_sessions_token_hash'),
    sqlite_strict=True
    )
    with op.batch_alter_table('kiosk_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_sessions_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kiosk_sessions_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kiosk_sessions_village_id'), ['village_id'], unique=False)


def downgrade():
    with op.batch_alter_table('kiosk_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_sessions_village_id'))
        batch_op.drop_index(batch_op.f('ix_kiosk_sessions_household_id'))
        batch_op.drop_index(batch_op.f('ix_kiosk_sessions_device_id'))

    op.drop_table('kiosk_sessions')
