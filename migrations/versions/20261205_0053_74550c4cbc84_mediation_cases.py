"""Mediation: cases numbered per village and year, parties, mediators and the village's mediation head, the
level history, sessions, agreements and follow-up visits (issue 15).

Revision ID: 74550c4cbc84
Revises: a1c1f5df5b37
Create Date: 2026-12-05 00:53:57.453339

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '74550c4cbc84'
down_revision = 'a1c1f5df5b37'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mediation_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('intake', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('dispute_type', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('summary', sa.String(length=2000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=True),
    sa.Column('risk', sa.String(length=14).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('level', sa.String(length=18).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=14).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('outcome_note', sa.String(length=1000).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('source_kind', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('closed_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("dispute_type IN ('family','neighbour','homestead','land_contract','support','debt','damages','forest','other')", name=op.f('ck_mediation_cases_type_known')),
    sa.CheckConstraint("intake IN ('desk','village_visit','grid_report','patrol_report','referral','self_initiated')", name=op.f('ck_mediation_cases_intake_known')),
    sa.CheckConstraint("level IN ('masses','joint_defence','villager_group','village_committee','police_station','township')", name=op.f('ck_mediation_cases_level_known')),
    sa.CheckConstraint("risk IN ('normal','may_escalate')", name=op.f('ck_mediation_cases_risk_known')),
    sa.CheckConstraint("status IN ('registered','investigating','mediating','agreed','performing','followed_up','closed','not_accepted','failed','escalated')", name=op.f('ck_mediation_cases_status_known')),
    sa.CheckConstraint('amount IS NULL OR amount BETWEEN 0 AND 1000000000', name=op.f('ck_mediation_cases_amount_bounded')),
    sa.CheckConstraint('seq BETWEEN 1 AND 99999', name=op.f('ck_mediation_cases_seq_bounded')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_mediation_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_cases_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_cases')),
    sa.UniqueConstraint('source_kind', 'source_id', name='uq_mediation_cases_source'),
    sa.UniqueConstraint('village_id', 'year', 'seq', name='uq_mediation_cases_number'),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_cases_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_heads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mediation_heads_user_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_heads_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_heads')),
    sa.UniqueConstraint('village_id', 'user_id', name='uq_mediation_heads_once'),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_heads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_heads_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('oral', sa.Boolean().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('facts', sa.String(length=5000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('terms', sa.String(length=5000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('performance', sa.String(length=1000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('perform_by', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('recorder', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint('copies BETWEEN 1 AND 20', name=op.f('ck_mediation_agreements_copies_bounded')),
    sa.ForeignKeyConstraint(['case_id'], ['mediation_cases.id'], name=op.f('fk_mediation_agreements_case_id_mediation_cases')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_mediation_agreements_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_agreements_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_agreements')),
    sa.UniqueConstraint('case_id', name='uq_mediation_agreements_case'),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_agreements_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_case_mediators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['mediation_cases.id'], name=op.f('fk_mediation_case_mediators_case_id_mediation_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mediation_case_mediators_user_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_case_mediators_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_case_mediators')),
    sa.UniqueConstraint('case_id', 'user_id', name='uq_mediation_case_mediators_once'),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_case_mediators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_case_mediators_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mediation_case_mediators_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mediation_case_mediators_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('visited', sa.String(length=100).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('performed', sa.String(length=8).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('findings', sa.String(length=2000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('visitor_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("performed IN ('yes','partly','no')", name=op.f('ck_mediation_follow_ups_performed_known')),
    sa.ForeignKeyConstraint(['case_id'], ['mediation_cases.id'], name=op.f('fk_mediation_follow_ups_case_id_mediation_cases')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_follow_ups_village_id_villages')),
    sa.ForeignKeyConstraint(['visitor_id'], ['users.id'], name=op.f('fk_mediation_follow_ups_visitor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_follow_ups')),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_follow_ups_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mediation_follow_ups_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_level_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('from_level', sa.String(length=18).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('to_level', sa.String(length=18).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('note', sa.String(length=500).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("to_level IN ('masses','joint_defence','villager_group','village_committee','police_station','township')", name=op.f('ck_mediation_level_changes_to_level_known')),
    sa.ForeignKeyConstraint(['case_id'], ['mediation_cases.id'], name=op.f('fk_mediation_level_changes_case_id_mediation_cases')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_mediation_level_changes_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_level_changes_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_level_changes')),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_level_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_level_changes_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mediation_level_changes_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('place', sa.String(length=100).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('attendees', sa.String(length=500).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('record', sa.String(length=10000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("kind IN ('desk','visit','joint','follow_up')", name=op.f('ck_mediation_sessions_kind_known')),
    sa.ForeignKeyConstraint(['case_id'], ['mediation_cases.id'], name=op.f('fk_mediation_sessions_case_id_mediation_cases')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_mediation_sessions_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_sessions_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_sessions')),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_sessions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mediation_sessions_village_id'), ['village_id'], unique=False)

    op.create_table('mediation_parties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=12).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('sex', sa.String(length=8).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('ethnicity', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('age', sa.Integer(), nullable=True),
    sa.Column('occupation', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('phone', sa.String(length=20).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('address', sa.String(length=200).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('agent', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("role IN ('applicant','respondent')", name=op.f('ck_mediation_parties_role_known')),
    sa.CheckConstraint('age IS NULL OR age BETWEEN 0 AND 130', name=op.f('ck_mediation_parties_age_bounded')),
    sa.ForeignKeyConstraint(['case_id'], ['mediation_cases.id'], name=op.f('fk_mediation_parties_case_id_mediation_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_mediation_parties_person_id_people')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_mediation_parties_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_parties')),
    sqlite_strict=True
    )
    with op.batch_alter_table('mediation_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mediation_parties_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mediation_parties_village_id'), ['village_id'], unique=False)



def downgrade():
    with op.batch_alter_table('mediation_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_parties_village_id'))
        batch_op.drop_index(batch_op.f('ix_mediation_parties_case_id'))

    op.drop_table('mediation_parties')
    with op.batch_alter_table('mediation_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_sessions_village_id'))
        batch_op.drop_index(batch_op.f('ix_mediation_sessions_case_id'))

    op.drop_table('mediation_sessions')
    with op.batch_alter_table('mediation_level_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_level_changes_village_id'))
        batch_op.drop_index(batch_op.f('ix_mediation_level_changes_case_id'))

    op.drop_table('mediation_level_changes')
    with op.batch_alter_table('mediation_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_follow_ups_village_id'))
        batch_op.drop_index(batch_op.f('ix_mediation_follow_ups_case_id'))

    op.drop_table('mediation_follow_ups')
    with op.batch_alter_table('mediation_case_mediators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_case_mediators_village_id'))
        batch_op.drop_index(batch_op.f('ix_mediation_case_mediators_user_id'))
        batch_op.drop_index(batch_op.f('ix_mediation_case_mediators_case_id'))

    op.drop_table('mediation_case_mediators')
    with op.batch_alter_table('mediation_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_agreements_village_id'))

    op.drop_table('mediation_agreements')
    with op.batch_alter_table('mediation_heads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_heads_village_id'))

    op.drop_table('mediation_heads')
    with op.batch_alter_table('mediation_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mediation_cases_village_id'))

    op.drop_table('mediation_cases')
