"""Villages: keep_photo_location, whether stored photos keep where they were taken (their GPS block; off by
default: app.photos drops it).

Revision ID: c3e7a9d1f5b2
Revises: dd99473d1661
Create Date: 2026-12-05 02:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e7a9d1f5b2'
down_revision = 'dd99473d1661'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('villages', sa.Column('keep_photo_location', sa.Boolean(), server_default=sa.false(),
                                        nullable=False))


def downgrade():
    with op.batch_alter_table('villages') as batch_op:
        batch_op.drop_column('keep_photo_location')
