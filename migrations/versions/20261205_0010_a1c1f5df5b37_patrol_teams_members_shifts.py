"""Patrol: teams, members and their history, leave, routes with checkpoints, shifts, places, swaps,
check-ins, spot-checks and the patrol log (issue 14).

Revision ID: a1c1f5df5b37
Revises: b8d2f4a6c0e1
Create Date: 2026-12-04 23:24:34.257128

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c1f5df5b37'
down_revision = 'b8d2f4a6c0e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('patrol_teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('level', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('police_liaison', sa.String(length=100).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('monthly_minimum', sa.Integer(), nullable=False),
    sa.Column('shift_item_id', sa.Integer(), nullable=True),
    sa.Column('night_item_id', sa.Integer(), nullable=True),
    sa.Column('absence_item_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("kind IN ('volunteer','paid','joint')", name=op.f('ck_patrol_teams_kind_known')),
    sa.CheckConstraint("level IN ('township','village','group')", name=op.f('ck_patrol_teams_level_known')),
    sa.CheckConstraint('monthly_minimum BETWEEN 0 AND 31', name=op.f('ck_patrol_teams_minimum_bounded')),
    sa.ForeignKeyConstraint(['group_id'], ['villager_groups.id'], name=op.f('fk_patrol_teams_group_id_villager_groups')),
    sa.ForeignKeyConstraint(['shift_item_id'], ['point_items.id'], name=op.f('fk_patrol_teams_shift_item_id_point_items')),
    sa.ForeignKeyConstraint(['night_item_id'], ['point_items.id'], name=op.f('fk_patrol_teams_night_item_id_point_items')),
    sa.ForeignKeyConstraint(['absence_item_id'], ['point_items.id'], name=op.f('fk_patrol_teams_absence_item_id_point_items')),
    sa.ForeignKeyConstraint(['leader_id'], ['people.id'], name=op.f('fk_patrol_teams_leader_id_people')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_teams_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_teams')),
    sa.UniqueConstraint('village_id', 'name', name='uq_patrol_teams_village_name'),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_teams_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('joined_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('left_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('badge_no', sa.String(length=32).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.CheckConstraint("status IN ('active','suspended','left')", name=op.f('ck_patrol_members_status_known')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_patrol_members_person_id_people')),
    sa.ForeignKeyConstraint(['team_id'], ['patrol_teams.id'], name=op.f('fk_patrol_members_team_id_patrol_teams')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_patrol_members_user_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_members_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_members')),
    sa.UniqueConstraint('team_id', 'person_id', name='uq_patrol_members_team_person'),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_members_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_members_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_members_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_members_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('active', sa.Boolean().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['patrol_teams.id'], name=op.f('fk_patrol_routes_team_id_patrol_teams')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_routes_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_routes')),
    sa.UniqueConstraint('team_id', 'name', name='uq_patrol_routes_team_name'),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_routes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_routes_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_routes_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('active', sa.Boolean().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_checkpoints_route_id_patrol_routes')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_checkpoints_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_checkpoints')),
    sa.UniqueConstraint('route_id', 'name', name='uq_patrol_checkpoints_route_name'),
    sa.UniqueConstraint('token', name='uq_patrol_checkpoints_token'),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_checkpoints_route_id'), ['route_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_checkpoints_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_leaves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('ends_on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=200).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_patrol_leaves_days_ordered')),
    sa.ForeignKeyConstraint(['member_id'], ['patrol_members.id'], name=op.f('fk_patrol_leaves_member_id_patrol_members')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_patrol_leaves_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_leaves_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_leaves')),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_leaves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_leaves_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_leaves_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_member_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('on', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('note', sa.String(length=200).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("status IN ('active','suspended','left')", name=op.f('ck_patrol_member_events_status_known')),
    sa.ForeignKeyConstraint(['member_id'], ['patrol_members.id'], name=op.f('fk_patrol_member_events_member_id_patrol_members')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_patrol_member_events_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_member_events_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_member_events')),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_member_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_member_events_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_member_events_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('starts_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('ends_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('needed', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('weather', sa.String(length=32).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("status IN ('planned','confirmed','cancelled')", name=op.f('ck_patrol_shifts_status_known')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_patrol_shifts_times_ordered')),
    sa.CheckConstraint('needed BETWEEN 1 AND 50', name=op.f('ck_patrol_shifts_needed_bounded')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_patrol_shifts_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_shifts_route_id_patrol_routes')),
    sa.ForeignKeyConstraint(['team_id'], ['patrol_teams.id'], name=op.f('fk_patrol_shifts_team_id_patrol_teams')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_shifts_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_shifts')),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_shifts', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_shifts_team_day', ['team_id', 'day'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_shifts_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_check_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['patrol_checkpoints.id'], name=op.f('fk_patrol_check_ins_checkpoint_id_patrol_checkpoints')),
    sa.ForeignKeyConstraint(['member_id'], ['patrol_members.id'], name=op.f('fk_patrol_check_ins_member_id_patrol_members')),
    sa.ForeignKeyConstraint(['shift_id'], ['patrol_shifts.id'], name=op.f('fk_patrol_check_ins_shift_id_patrol_shifts')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_check_ins_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_check_ins')),
    sa.UniqueConstraint('shift_id', 'checkpoint_id', 'member_id', name='uq_patrol_check_ins_once'),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_check_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_check_ins_shift_id'), ['shift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_check_ins_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('text', sa.String(length=1000).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('photo_file', sa.String(length=80).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=14).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('ref_kind', sa.String(length=16).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('ref_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint("action IN ('on_the_spot','to_committee','to_police','to_mediation','to_grid')", name=op.f('ck_patrol_findings_action_known')),
    sa.CheckConstraint("kind IN ('hazard','suspicious','dispute','fire','other')", name=op.f('ck_patrol_findings_kind_known')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_patrol_findings_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['shift_id'], ['patrol_shifts.id'], name=op.f('fk_patrol_findings_shift_id_patrol_shifts')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_findings_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_findings')),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_findings_shift_id'), ['shift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_findings_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('inspector', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('result', sa.String(length=500).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_patrol_inspections_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['shift_id'], ['patrol_shifts.id'], name=op.f('fk_patrol_inspections_shift_id_patrol_shifts')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_inspections_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_inspections')),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_inspections_shift_id'), ['shift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_inspections_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_places',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('attendance', sa.String(length=10).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('instead_of_id', sa.Integer(), nullable=True),
    sa.Column('signed_in_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('signed_out_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("attendance IN ('planned','present','late','absent','leave','substitute')", name=op.f('ck_patrol_places_attendance_known')),
    sa.ForeignKeyConstraint(['entry_id'], ['point_entries.id'], name=op.f('fk_patrol_places_entry_id_point_entries')),
    sa.ForeignKeyConstraint(['instead_of_id'], ['patrol_members.id'], name=op.f('fk_patrol_places_instead_of_id_patrol_members')),
    sa.ForeignKeyConstraint(['member_id'], ['patrol_members.id'], name=op.f('fk_patrol_places_member_id_patrol_members')),
    sa.ForeignKeyConstraint(['shift_id'], ['patrol_shifts.id'], name=op.f('fk_patrol_places_shift_id_patrol_shifts')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_places_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_places')),
    sa.UniqueConstraint('shift_id', 'member_id', name='uq_patrol_places_shift_member'),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_places', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_places_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_places_village_id'), ['village_id'], unique=False)

    op.create_table('patrol_swaps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('from_member_id', sa.Integer(), nullable=False),
    sa.Column('to_member_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200).with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint('from_member_id <> to_member_id', name=op.f('ck_patrol_swaps_two_members')),
    sa.ForeignKeyConstraint(['from_member_id'], ['patrol_members.id'], name=op.f('fk_patrol_swaps_from_member_id_patrol_members')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_patrol_swaps_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['shift_id'], ['patrol_shifts.id'], name=op.f('fk_patrol_swaps_shift_id_patrol_shifts')),
    sa.ForeignKeyConstraint(['to_member_id'], ['patrol_members.id'], name=op.f('fk_patrol_swaps_to_member_id_patrol_members')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_patrol_swaps_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_swaps')),
    sqlite_strict=True
    )
    with op.batch_alter_table('patrol_swaps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_swaps_shift_id'), ['shift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_swaps_village_id'), ['village_id'], unique=False)



def downgrade():
    with op.batch_alter_table('patrol_swaps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_swaps_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_swaps_shift_id'))

    op.drop_table('patrol_swaps')
    with op.batch_alter_table('patrol_places', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_places_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_places_member_id'))

    op.drop_table('patrol_places')
    with op.batch_alter_table('patrol_inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_inspections_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_inspections_shift_id'))

    op.drop_table('patrol_inspections')
    with op.batch_alter_table('patrol_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_findings_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_findings_shift_id'))

    op.drop_table('patrol_findings')
    with op.batch_alter_table('patrol_check_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_check_ins_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_check_ins_shift_id'))

    op.drop_table('patrol_check_ins')
    with op.batch_alter_table('patrol_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_shifts_village_id'))
        batch_op.drop_index('ix_patrol_shifts_team_day')

    op.drop_table('patrol_shifts')
    with op.batch_alter_table('patrol_member_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_member_events_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_member_events_member_id'))

    op.drop_table('patrol_member_events')
    with op.batch_alter_table('patrol_leaves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_leaves_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_leaves_member_id'))

    op.drop_table('patrol_leaves')
    with op.batch_alter_table('patrol_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_checkpoints_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_checkpoints_route_id'))

    op.drop_table('patrol_checkpoints')
    with op.batch_alter_table('patrol_routes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_routes_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_routes_team_id'))

    op.drop_table('patrol_routes')
    with op.batch_alter_table('patrol_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_members_village_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_members_user_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_members_team_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_members_person_id'))

    op.drop_table('patrol_members')
    with op.batch_alter_table('patrol_teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_teams_village_id'))

    op.drop_table('patrol_teams')
